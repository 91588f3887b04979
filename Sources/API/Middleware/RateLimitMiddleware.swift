import Domain
import Store
import Web

/// Enforces the rate limits kept in PostgreSQL, shared by every process and host, and sends the `RateLimit-*`
/// headers (IETF draft-ietf-httpapi-ratelimit-headers) on every response, problems included.
///
/// Authenticated requests were already counted by the authentication call. A request without a principal (a public
/// route such as login, a protected one without credentials, or one whose credential failed) is counted against its
/// client address (an IPv6 client by its /64, `Request.clientNetwork`) with the `anonymous` role's limits, so
/// trying keys or tokens is slowed as trying passwords is, while a valid credential from the same address is
/// charged to its own principal. Over the limit: 429 with `Retry-After`.
struct RateLimitMiddleware: Middleware {
    func handle(_ request: Request, context: RequestContext, next: Handler<RequestContext>) throws -> Response {
        guard let access = context.route?.access, access != .probe else { return try next(request, context) }
        if context.identity == nil, !context.isResumed {
            context.rateLimit = try AuthStore(connection: context.connection).rateLimitHit(
                subject: "a:" + request.clientNetwork)
        }
        guard let decision = context.rateLimit else { return try next(request, context) }
        let headers = Self.headers(decision)
        guard decision.isAllowed || context.isResumed else {
            context.auditEvent = "rate_limit.exceeded"
            context.auditDetail.append(("limit", .int(Int64(decision.limit))))
            throw Problem(
                .rateLimited, detail: "Too many requests; retry in \(decision.retryAfterSeconds) s.",
                headers: headers + [("Retry-After", String(decision.retryAfterSeconds))])
        }
        do {
            if let failure = context.credentialFailure { throw failure }
            var response = try next(request, context)
            response.headers.append(contentsOf: headers)
            return response
        } catch let handoff as any Handoff {
            throw handoff
        } catch {
            var problem = ProblemBoundaryMiddleware.problem(for: error, context: context)
            problem.headers.append(contentsOf: headers)
            throw problem
        }
    }

    static func headers(_ decision: RateLimitDecision) -> [(name: String, value: String)] {
        [
            ("RateLimit-Limit", String(decision.limit)),
            ("RateLimit-Remaining", String(decision.remaining)),
            ("RateLimit-Reset", String(decision.resetSeconds)),
        ]
    }
}

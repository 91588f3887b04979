import Domain
import Web

/// Establishes who is calling from the credentials the request presents, if any (probes skip this).
///
/// Presented but bad credentials end the request with a 401, even on routes that need none: a client with a broken
/// key should learn so. The 401 is raised by `RateLimitMiddleware`, once the client's address has paid for the
/// attempt. The audit row records the failure's reason. The route's prefetched read travels in authentication's
/// round trip.
struct AuthenticateMiddleware: Middleware {
    func handle(_ request: Request, context: RequestContext, next: Handler<RequestContext>) throws -> Response {
        guard context.route?.access != .probe, !context.isResumed else { return try next(request, context) }
        context.route?.prefetch?(request, context)
        do {
            if let outcome = try context.services.authenticator.authenticate(request, context: context) {
                context.identity = outcome.identity
                context.rateLimit = outcome.rateLimit
            }
        } catch let failure as Authenticator.Failure {
            context.auditEvent = "auth.failure"
            context.auditDetail = [("reason", .string(failure.reason))]
            context.credentialFailure = failure.problem
        }
        return try next(request, context)
    }
}

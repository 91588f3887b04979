import Domain
import Web

/// Writes one JSON line per request: request id, method, route pattern, status and duration.
///
/// Outermost in the chain, so it sees the final status of every request, problems included. It logs the route
/// pattern rather than the path, so ids, keys and query strings never reach the log.
struct RequestLogMiddleware: Middleware {
    func handle(_ request: Request, context: RequestContext, next: Handler<RequestContext>) throws -> Response {
        let response = try next(request, context)
        if context.config.logRequests {
            Log.write(
                .info,
                [
                    ("request_id", .string(context.requestID)),
                    ("method", .string(request.method)),
                    ("route", context.routePattern.map(JSON.string) ?? .null),
                    ("status", .int(Int64(response.status))),
                    ("duration_ms", .double((context.elapsedMilliseconds * 1000).rounded() / 1000)),
                ])
        }
        return response
    }
}

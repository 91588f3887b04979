import Domain
import Web

/// Logs one JSON line per request: request id, method, route pattern, status and duration.
///
/// Outermost in the chain, so it sees the final status of every request, problems included. It logs the route
/// pattern rather than the path, so ids, keys and query strings never reach the log. Lines go to the worker's
/// buffer (`RequestLogBuffer`), which writes them in batches.
struct RequestLogMiddleware: Middleware {
    func handle(_ request: Request, context: RequestContext, next: Handler<RequestContext>) throws -> Response {
        // A parked request is logged when it is finally answered.
        let response = try next(request, context)
        if let log = context.log {
            log.appendRequest(
                requestID: context.requestID, method: request.method, route: context.routePattern,
                status: response.status, durationMicroseconds: context.elapsedMicroseconds)
        }
        return response
    }
}

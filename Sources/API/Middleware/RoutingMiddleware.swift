import Domain
import Web

/// Looks the request up in the route table: 413 for an oversized body, 404 for an unknown path, 405 with `Allow`
/// for a known path with another method; otherwise records the route in the context for the steps after it.
struct RoutingMiddleware: Middleware {
    let router: Router<RequestContext>

    func handle(_ request: Request, context: RequestContext, next: Handler<RequestContext>) throws -> Response {
        if context.isResumed {
            var routed = request
            routed.pathParameters = context.pathParameters
            return try next(routed, context)
        }
        if request.bodyExceedsLimit {
            throw Problem(
                .payloadTooLarge, detail: "The request body is larger than \(context.config.maxBodyBytes) bytes.")
        }
        switch router.match(method: request.method, path: request.path) {
        case .notFound:
            throw Problem.notFound("No route matches \(request.method) \(request.path).")
        case .methodNotAllowed(let allowed):
            throw Problem(
                .methodNotAllowed, detail: "This route does not accept \(request.method).",
                headers: [("Allow", allowed.joined(separator: ", "))])
        case .found(let route, let parameters):
            var routed = request
            routed.pathParameters = parameters
            context.route = route
            context.routePattern = route.pattern
            context.pathParameters = parameters
            return try next(routed, context)
        }
    }
}

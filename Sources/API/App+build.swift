import Domain
import Web

/// The composition root: the route table and the middleware chain, listed in one place.
///
/// The FastCGI workers and the in-process tests build the very same `App`, so what the tests exercise is what
/// nginx reaches.
public struct App: Sendable {
    public let router: Router<RequestContext>
    private let pipeline: Handler<RequestContext>

    /// Builds the routes and the chain for a configuration.
    public init(config: Configuration) {
        var router = Router<RequestContext>()
        HealthRoutes().register(in: &router)
        self.router = router
        let chain: [any Middleware<RequestContext>] = [
            RequestLogMiddleware(),
            ProblemBoundaryMiddleware(),
            RoutingMiddleware(router: router),
        ]
        pipeline = chain.chained { request, context in
            guard let route = context.route else { throw Problem.internalError }
            return try route.handler(request, context)
        }
    }

    /// Answers one request; never throws, since the chain's problem boundary renders every failure.
    public func respond(to request: Request, context: RequestContext) -> Response {
        do {
            return try pipeline(request, context)
        } catch {
            return ProblemBoundaryMiddleware.problem(for: error, context: context).response(requestID: context.requestID)
        }
    }
}

import Domain
import Store
import Web

/// The composition root: the route table and the middleware chain, listed in one place.
///
/// The FastCGI workers and the in-process tests build the very same `App`, so what the tests exercise is what
/// nginx reaches.
public struct App: Sendable {
    public let router: Router<RequestContext>
    /// Process-wide services (token keys) that every request context carries.
    public let services: Services
    private let pipeline: Handler<RequestContext>

    /// Builds the routes and the chain for a configuration; throws when configured key material is unusable.
    public init(config: Configuration) throws(ConfigError) {
        services = try Services(config: config)
        var router = Router<RequestContext>()
        HealthRoutes().register(in: &router)
        AuthRoutes().register(in: &router)
        KeyRoutes().register(in: &router)
        UserRoutes().register(in: &router)
        RoleRoutes().register(in: &router)
        AuditRoutes().register(in: &router)
        JobRoutes().register(in: &router)
        DeviceRoutes().register(in: &router)
        CircuitRoutes().register(in: &router)
        self.router = router
        let chain: [any Middleware<RequestContext>] = [
            RequestLogMiddleware(),
            ProblemBoundaryMiddleware(),
            RoutingMiddleware(router: router),
            AuthenticateMiddleware(),
            RateLimitMiddleware(),
            AuthorizeMiddleware(),
        ]
        pipeline = chain.chained { request, context in
            guard let route = context.route else { throw Problem.internalError }
            // Every route refuses a query it cannot decode or that names a parameter twice, also one whose
            // handler reads no parameters.
            if let problem = request.query.wholeQueryProblem { throw problem }
            return try route.handler(request, context)
        }
    }

    /// Answers one request, parks it (a blocking query with nothing new yet) or queues it (a submit, for the
    /// batcher); never throws, since the chain's problem boundary renders every failure.
    public func respond(to request: Request, context: RequestContext) -> Outcome {
        do {
            return .response(try pipeline(request, context))
        } catch let park as Park {
            return .parked(park)
        } catch let queued as QueuedSubmit {
            return .queued(queued)
        } catch {
            return .response(
                ProblemBoundaryMiddleware.problem(for: error, context: context).response(requestID: context.requestID))
        }
    }

    /// Writes the request's audit row after the response went out, unless its transaction already holds it.
    ///
    /// Reads and refused requests land here; their rows commit asynchronously (the responders' session default),
    /// so a database crash can lose the last moments of them. State changes wrote theirs inside their transaction.
    /// Probes write nothing.
    public func complete(_ response: Response, context: RequestContext) {
        guard context.route?.access != .probe, !context.isAudited else { return }
        context.audit.append(context.auditEntry(status: response.status), connection: context.connection)
        context.isAudited = true
    }
}

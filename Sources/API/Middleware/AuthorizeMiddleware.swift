import Domain
import Web

/// Checks the route's declared access against the caller: 401 without credentials, 403 without the permission.
struct AuthorizeMiddleware: Middleware {
    func handle(_ request: Request, context: RequestContext, next: Handler<RequestContext>) throws -> Response {
        guard let access = context.route?.access, !context.isResumed else { return try next(request, context) }
        switch access {
        case .probe, .public:
            break
        case .authenticated:
            try requireCaller(context)
        case .permission(let permission):
            let identity = try requireCaller(context)
            guard identity.permissions.allows(permission) else {
                context.auditEvent = "permission.denied"
                context.auditDetail = [("permission", .string(permission.value))]
                throw Problem.forbidden(permission.value)
            }
        }
        return try next(request, context)
    }

    @discardableResult
    private func requireCaller(_ context: RequestContext) throws -> Identity {
        guard let identity = context.identity else {
            context.auditEvent = "auth.failure"
            context.auditDetail = [("reason", .string("missing-credentials"))]
            throw Problem.unauthenticated()
        }
        return identity
    }
}

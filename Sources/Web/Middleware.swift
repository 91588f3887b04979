/// One step of the request pipeline, after Hummingbird's middleware without `async`.
///
/// Middleware values are immutable and shared by every worker thread; per-request state lives in the context.
/// The chain is listed in one place (the API layer's composition root), so the order is explicit.
public protocol Middleware<Context>: Sendable {
    associatedtype Context
    /// Handles the request, usually by calling `next` and adjusting what it returns.
    func handle(_ request: Request, context: Context, next: Handler<Context>) throws -> Response
}

extension Array {
    /// Wraps `endpoint` in the middleware of this array, the first element outermost.
    public func chained<Context>(to endpoint: @escaping Handler<Context>) -> Handler<Context>
    where Element == any Middleware<Context> {
        reversed().reduce(endpoint) { next, middleware in
            { request, context in try middleware.handle(request, context: context, next: next) }
        }
    }
}

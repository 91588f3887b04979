import Domain
import Postgres
import Web

/// The one place where errors become responses: problems are rendered, database failures are classified by
/// SQLSTATE, anything else is a 500 whose reason goes to the log only.
struct ProblemBoundaryMiddleware: Middleware {
    func handle(_ request: Request, context: RequestContext, next: Handler<RequestContext>) throws -> Response {
        do {
            return try next(request, context)
        } catch let handoff as any Handoff {
            throw handoff
        } catch {
            return Self.problem(for: error, context: context).response(requestID: context.requestID)
        }
    }

    /// The problem that stands for `error`; unexpected errors are logged with the request id.
    static func problem(for error: any Error, context: RequestContext) -> Problem {
        switch error {
        case let convertible as any ProblemConvertible:
            return convertible.problem
        case let database as DatabaseError:
            let problem = Problem(database)
            if problem.kind == .internalError || problem.kind == .unavailable {
                Log.message(
                    .error, "database error",
                    [("request_id", .string(context.requestID)), ("error", .string(database.debugDescription))])
            }
            return problem
        default:
            Log.message(
                .error, "unhandled error",
                [("request_id", .string(context.requestID)), ("error", .string(String(describing: error)))])
            return .internalError
        }
    }
}

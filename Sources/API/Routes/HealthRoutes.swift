import Domain
import Store
import Web

/// Liveness and readiness probes for load balancers and supervisors.
struct HealthRoutes {
    func register(in router: inout Router<RequestContext>) {
        router.add("GET", "/api/v1/health", access: .probe, handler: Self.live)
        router.add("GET", "/api/v1/health/ready", access: .probe, handler: Self.ready)
    }

    private static let liveBody = JSON.object([("status", .string("ok"))]).bytes

    /// 200 while the process serves requests; touches nothing else, so it stays cheap under any load.
    @Sendable static func live(_ request: Request, _ context: RequestContext) throws -> Response {
        Response(status: 200, headers: [("Content-Type", "application/json")], body: liveBody)
    }

    /// 200 when the database answers and has every migration this build expects; 503 otherwise.
    ///
    /// A database ahead of the build (a newer deploy migrated it) still counts as ready, so a rolling deploy does
    /// not take the older responders out of service.
    @Sendable static func ready(_ request: Request, _ context: RequestContext) throws -> Response {
        let version = try HealthStore(connection: context.connection).schemaVersion()
        guard version >= Schema.version else {
            throw Problem.unavailable(
                "The database schema is at version \(version); this build needs \(Schema.version). Run "
                    + "`switchyardctl migrate`.", retryAfterSeconds: 5)
        }
        return .json(.object([("status", .string("ready")), ("schema_version", .int(Int64(version)))]))
    }
}

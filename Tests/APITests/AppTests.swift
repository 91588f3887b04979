@testable import API
import Domain
import Postgres
import Store
import Testing
import Web

/// The composition root called in process, without services (routes that need the database are not called here).
@Suite struct AppTests {
    let app = try! App(config: Configuration())

    func respond(_ method: String, _ path: String, body: [UInt8] = [], tooLarge: Bool = false) -> (Response, JSON?) {
        var request = Request(method: method, path: path, body: body, requestID: "test-request")
        request.bodyExceedsLimit = tooLarge
        let context = RequestContext(
            request: request, connection: Connection(conninfo: "host=/nonexistent connect_timeout=1"),
            config: Configuration(), services: app.services)
        guard case .response(let response) = app.respond(to: request, context: context) else {
            return (Response(status: 0), nil)
        }
        guard case .bytes(let bytes) = response.body else { return (response, nil) }
        return (response, try? JSON.parse(bytes))
    }

    @Test func theAuditedUserAgentIsCut() {
        let agent = String(repeating: "é", count: 10_000)
        let request = Request(method: "GET", path: "/api/v1/me", headers: Headers([("User-Agent", agent)]))
        let context = RequestContext(
            request: request, connection: Connection(conninfo: "host=/nonexistent connect_timeout=1"),
            config: Configuration(), services: app.services)
        let stored = context.auditEntry(status: 401).userAgent
        #expect(stored == String(repeating: "é", count: RequestContext.userAgentLimit))
    }

    @Test func healthAnswersWithoutDatabase() {
        let (response, body) = respond("GET", "/api/v1/health")
        #expect(response.status == 200)
        #expect(body?["status"] == .string("ok"))
    }

    @Test func unknownRouteIsProblem404() {
        let (response, body) = respond("GET", "/api/v1/unknown")
        #expect(response.status == 404)
        #expect(response.header("content-type") == "application/problem+json")
        #expect(body?["type"] == .string("/problems/not-found"))
        #expect(body?["instance"] == .string("test-request"))
    }

    @Test func wrongMethodIs405WithAllow() {
        let (response, body) = respond("DELETE", "/api/v1/health")
        #expect(response.status == 405)
        #expect(response.header("Allow") == "GET, HEAD")
        #expect(body?["type"] == .string("/problems/method-not-allowed"))
    }

    @Test func oversizedBodyIs413() {
        let (response, body) = respond("POST", "/api/v1/health", tooLarge: true)
        #expect(response.status == 413)
        #expect(body?["type"] == .string("/problems/payload-too-large"))
    }

    @Test func unreachableDatabaseIs503WithRetryAfter() {
        let (response, body) = respond("GET", "/api/v1/health/ready")
        #expect(response.status == 503)
        #expect(response.header("Retry-After") != nil)
        #expect(body?["type"] == .string("/problems/unavailable"))
    }

    /// Every route declares its access in the table; only these may be reached without credentials.
    @Test func onlyTheListedRoutesAreReachableWithoutCredentials() {
        let open: Set<String> = ["GET /api/v1/health", "GET /api/v1/health/ready", "POST /api/v1/auth/login"]
        #expect(app.router.routes.filter { $0.access == .probe || $0.access == .public }.count == open.count)
        #expect(!app.router.routes.isEmpty)
        for route in app.router.routes {
            let name = "\(route.method) \(route.pattern)"
            switch route.access {
            case .probe, .public: #expect(open.contains(name), "\(name) is reachable without credentials")
            case .authenticated, .permission: #expect(!open.contains(name), "\(name) should be open")
            }
        }
    }

    /// Administration routes need permissions that only `*` (admin) grants among the built-in roles (their grants
    /// as `sql/migrations/0002_identity.sql` seeds them).
    @Test func administrationRoutesNeedAdministrativePermissions() {
        let nonAdminRoles = [
            ["job:*", "device:*", "node:*", "storage:*"], ["job:*", "device:read", "device:reserve", "circuit:*"],
            ["job:create", "job:read", "job:cancel", "device:read", "circuit:*"],
            ["job:read", "device:read", "node:read", "storage:read"], ["node:heartbeat", "job:claim", "job:report"],
        ].map { PermissionSet($0.map(Permission.init(literal:))) }
        let administration = app.router.routes.filter {
            $0.pattern.hasPrefix("/api/v1/users") || $0.pattern.hasPrefix("/api/v1/roles")
                || $0.pattern.hasPrefix("/api/v1/audit")
        }
        #expect(administration.count >= 9, "users (5), roles (3) and audit (3) routes")
        for route in administration {
            guard case .permission(let permission) = route.access else {
                Issue.record("\(route.method) \(route.pattern) has no permission")
                continue
            }
            for role in nonAdminRoles {
                #expect(!role.allows(permission), "\(route.method) \(route.pattern) is open to \(role.grants)")
            }
        }
    }
}

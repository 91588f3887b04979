import Foundation
import Testing

/// Every built-in role against every protected route: allowed means anything but 403, denied means 403.
///
/// The expected grants are written here from the specification, independently of the migration that defines them.
@Suite(.enabled(if: Stack.isAvailable)) struct AuthorizationMatrixEndToEndTests {
    static let grants: [String: [String]] = [
        "admin": ["*"],
        "operator": ["job:*", "device:*", "node:*", "storage:*"],
        "researcher": ["job:*", "device:read", "device:reserve", "circuit:*"],
        "user": ["job:create", "job:read", "job:cancel", "device:read", "circuit:*"],
        "viewer": ["job:read", "device:read", "node:read", "storage:read"],
        "agent": ["node:heartbeat", "job:claim", "job:report"],
    ]

    /// (method, path, body, permission; nil: any authenticated principal)
    static let routes: [(String, String, String?, String?)] = [
        ("GET", "/api/v1/me", nil, nil),
        ("GET", "/api/v1/keys", nil, nil),
        ("POST", "/api/v1/auth/token", "{}", nil),
        ("GET", "/api/v1/users", nil, "user:read"),
        ("GET", "/api/v1/users/nobody-here", nil, "user:read"),
        ("POST", "/api/v1/users", "{}", "user:create"),
        ("PATCH", "/api/v1/users/nobody-here", "{}", "user:update"),
        ("DELETE", "/api/v1/users/nobody-here", nil, "user:delete"),
        ("GET", "/api/v1/roles", nil, "role:read"),
        ("PUT", "/api/v1/roles/matrix-probe", "{}", "role:write"),
        ("DELETE", "/api/v1/roles/matrix-probe", nil, "role:write"),
        ("GET", "/api/v1/audit", nil, "audit:read"),
        ("GET", "/api/v1/audit/1", nil, "audit:read"),
        ("GET", "/api/v1/audit/export?from=2999-01-01T00:00:00Z", nil, "audit:read"),
        ("POST", "/api/v1/jobs", "{}", "job:create"),
        ("GET", "/api/v1/jobs", nil, "job:read"),
        ("GET", "/api/v1/jobs/999999999", nil, "job:read"),
        ("GET", "/api/v1/jobs/999999999/status", nil, "job:read"),
        ("GET", "/api/v1/jobs/999999999/results", nil, "job:read"),
        ("POST", "/api/v1/jobs/999999999/cancel", "{}", "job:cancel"),
        ("POST", "/api/v1/jobs/999999999/extend", "{}", "job:extend"),
        ("POST", "/api/v1/jobs/999999999/retry", "{}", "job:retry"),
        ("DELETE", "/api/v1/jobs/999999999", nil, "job:delete"),
        ("GET", "/api/v1/queue/stats", nil, "job:read"),
        ("GET", "/api/v1/events", nil, "job:read"),
        ("GET", "/api/v1/devices", nil, "device:read"),
        ("GET", "/api/v1/devices/sim-statevector", nil, "device:read"),
        ("GET", "/api/v1/devices/sim-statevector/status", nil, "device:read"),
        ("GET", "/api/v1/devices/sim-statevector/reservations", nil, "device:read"),
        ("POST", "/api/v1/devices", "{}", "device:create"),
        ("PATCH", "/api/v1/devices/no-such-device", "{}", "device:update"),
        ("DELETE", "/api/v1/devices/no-such-device", nil, "device:delete"),
        ("POST", "/api/v1/devices/no-such-device/reservations", "{}", "device:reserve"),
        ("DELETE", "/api/v1/devices/no-such-device/reservations/1", nil, "device:reserve"),
        ("GET", "/api/v1/cluster/status", nil, "device:read"),
        ("POST", "/api/v1/circuits/validate", "{}", "circuit:validate"),
        ("POST", "/api/v1/circuits/compile", "{}", "circuit:compile"),
        ("POST", "/api/v1/circuits/optimize", "{}", "circuit:optimize"),
    ]

    static func allows(_ grants: [String], _ permission: String) -> Bool {
        grants.contains { grant in
            grant == "*" || grant == permission || (grant.hasSuffix(":*") && permission.hasPrefix(String(grant.dropLast())))
        }
    }

    @Test(arguments: ["admin", "operator", "researcher", "user", "viewer", "agent"])
    func roleAgainstEveryRoute(_ role: String) throws {
        let caller = try Fixtures.user("matrix-\(role)", roles: [role])
        for (method, path, body, permission) in Self.routes {
            let response = try caller.send(method, path, json: body)
            let allowed = permission.map { Self.allows(Self.grants[role]!, $0) } ?? true
            if allowed {
                #expect(response.status != 403 && response.status != 401, "\(role) \(method) \(path): \(response.status)")
            } else {
                #expect(response.status == 403, "\(role) \(method) \(path): \(response.status)")
                #expect(response.json?["type"] as? String == "/problems/forbidden")
                #expect(response.json?["required_permission"] as? String == permission)
            }
        }
    }
}

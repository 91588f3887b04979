import Foundation
import Testing

/// Limits kept in PostgreSQL hold across both responder processes.
@Suite(.enabled(if: Stack.isAvailable)) struct RateLimitEndToEndTests {
    @Test func aRolesLimitHoldsAcrossProcesses() throws {
        let role = "tiny" + UUID().uuidString.prefix(6).lowercased()
        let created = try Fixtures.admin.send(
            "PUT", "/api/v1/roles/\(role)",
            json: #"{"permissions":["job:read"],"rate_per_minute":1,"rate_per_hour":100,"rate_burst":4}"#)
        #expect(created.status == 201)
        let user = try Fixtures.user("limited", roles: [role])
        var statuses: [Int] = []
        var limited: HTTPResponse?
        var remaining: [String] = []
        for _ in 0..<10 {
            let response = try user.get("/api/v1/me")
            statuses.append(response.status)
            remaining.append(response.header("RateLimit-Remaining") ?? "-")
            if response.status == 429 { limited = response }
        }
        // The login itself was counted against the address, not the principal: four requests fit the burst.
        #expect(statuses.filter { $0 == 200 }.count == 4, "\(statuses)")
        #expect(statuses.filter { $0 == 429 }.count == 6)
        #expect(remaining.prefix(4) == ["3", "2", "1", "0"])
        let refused = try #require(limited)
        #expect(refused.json?["type"] as? String == "/problems/rate-limited")
        #expect(Int(refused.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(refused.header("RateLimit-Limit") == "4")
        #expect(refused.header("RateLimit-Remaining") == "0")
        #expect(refused.header("RateLimit-Reset") != nil)
    }
}

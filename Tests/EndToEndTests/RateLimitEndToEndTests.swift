import Foundation
import Synchronization
import Testing

/// Limits kept in PostgreSQL hold across both responder processes.
@Suite(.enabled(if: Stack.isAvailable)) struct RateLimitEndToEndTests {
    /// A user whose only role (made for it) reads jobs with these limits.
    func userWithItsOwnRole(_ stem: String, perMinute: Int, perHour: Int, burst: Int) throws -> Caller {
        let role = stem + UUID().uuidString.prefix(6).lowercased()
        let created = try Fixtures.admin.send(
            "PUT", "/api/v1/roles/\(role)",
            json: #"{"permissions":["job:read"],"rate_per_minute":\#(perMinute),"rate_per_hour":\#(perHour),"rate_burst":\#(burst)}"#)
        #expect(created.status == 201)
        return try Fixtures.user(stem, roles: [role])
    }

    @Test func aRolesLimitHoldsAcrossProcesses() throws {
        let user = try userWithItsOwnRole("limited", perMinute: 1, perHour: 100, burst: 4)
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

    /// A busy key is counted by allowances (several requests taken at once, counted down in each process): from
    /// eight connections at once, over both processes, it still gets no more than its burst, and what was served
    /// was taken from the shared bucket first.
    @Test func aBusyKeyGetsNoMoreThanItsBurstAcrossProcesses() throws {
        let user = try userWithItsOwnRole("busy", perMinute: 1, perHour: 1000, burst: 40)
        let answers = Mutex<[HTTPResponse]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<12 {
                if let response = try? user.get("/api/v1/me") { answers.withLock { $0.append(response) } }
            }
        }
        let all = answers.withLock { $0 }
        #expect(all.count == 96)
        let served = all.filter { $0.status == 200 }.count
        #expect(served <= 40 && served >= 20, "\(served) served")
        #expect(all.allSatisfy { $0.status == 200 || $0.status == 429 })
        #expect(all.filter { $0.status == 429 }.allSatisfy { Int($0.header("Retry-After") ?? "") ?? 0 >= 1 })
        // The bucket refills one request a minute, so how far its arrival time lies ahead counts what was taken
        // (hour_count would start again if the hour turned during the test).
        let taken = try Fixtures.sql(
            "SELECT ceil(extract(epoch FROM s.tat - now()) / 60)::bigint FROM rate_limit_state s "
                + "JOIN principal p ON s.subject = 'p:' || p.id WHERE p.name = '\(user.name)'")
        #expect(Int(taken).map { $0 >= served && $0 <= 40 } == true, "taken \(taken), served \(served)")
    }

    /// Keys and tokens that fail, and missing credentials, are charged to the client's address with the anonymous
    /// role's limits; a valid key from that address is still charged to its own principal.
    @Test func requestsWithoutAPrincipalAreChargedToTheirAddress() throws {
        // Logging in is itself charged to the address, so the user logs in before the limit is lowered.
        let user = try Fixtures.user("addressed", roles: ["user"])
        let saved = try Fixtures.sql(
            "SELECT rate_per_minute || ',' || rate_per_hour || ',' || rate_burst FROM role WHERE name = 'anonymous'")
        let address = "a:127.0.0.1"
        try Fixtures.sql("DELETE FROM rate_limit_state WHERE subject = '\(address)'")
        try Fixtures.sql("UPDATE role SET rate_per_minute = 1, rate_per_hour = 1000, rate_burst = 3 WHERE name = 'anonymous'")
        defer {
            let limits = saved.split(separator: ",")
            _ = try? Fixtures.sql(
                "UPDATE role SET rate_per_minute = \(limits[0]), rate_per_hour = \(limits[1]), rate_burst = \(limits[2]) WHERE name = 'anonymous'")
            _ = try? Fixtures.sql("DELETE FROM rate_limit_state WHERE subject = '\(address)'")
        }
        let badKey = [("Authorization", "Bearer sy_" + String(repeating: "A", count: 43))]
        let badToken = [("Authorization", "Bearer a.b.c")]
        var answers: [HTTPResponse] = []
        for headers in [badKey, badToken, []] {
            answers.append(try Stack.client.get("/api/v1/me", headers: headers))
        }
        #expect(answers.map(\.status) == [401, 401, 401])
        #expect(answers.map { $0.header("RateLimit-Remaining") } == ["2", "1", "0"])
        #expect(answers.allSatisfy { $0.header("RateLimit-Limit") == "3" && $0.header("WWW-Authenticate") != nil })

        let refused = try Stack.client.get("/api/v1/me", headers: badKey)
        #expect(refused.status == 429)
        #expect(refused.json?["type"] as? String == "/problems/rate-limited")
        #expect(Int(refused.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(try Stack.client.get("/api/v1/me").status == 429)
        let auditRow = "SELECT event || ' ' || status || ' ' || (detail->>'reason') || ' ' || (detail->>'limit') "
            + "FROM audit_log WHERE request_id = '\(refused.header("X-Request-Id")!)'"
        #expect(try Stack.eventually(within: 5) { try Fixtures.sql(auditRow) == "rate_limit.exceeded 429 key-unknown 3" })

        let allowed = try user.get("/api/v1/me")
        #expect(allowed.status == 200)
        #expect(allowed.header("RateLimit-Limit") != "3")
    }
}

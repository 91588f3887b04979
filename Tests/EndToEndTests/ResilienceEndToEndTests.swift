import Foundation
import Glibc
import Synchronization
import Testing

/// Failure and recycling: the database going away and coming back, a responder killed, responders reaching
/// their request limit.
@Suite(.enabled(if: Stack.isAvailable), .serialized) struct ResilienceEndToEndTests {
    let client = Stack.client

    @Test func readinessFollowsTheDatabaseWithoutRestartingResponders() throws {
        #expect(try client.get("/api/v1/health/ready").status == 200)
        let before = try Stack.responderPIDs()
        let logStart = try responderLog().count

        #expect(try Stack.shell(Stack.environment["TEST_PG_STOP"]!) == 0)
        let down = try client.get("/api/v1/health/ready")
        #expect(down.status == 503)
        #expect(down.header("Content-Type") == "application/problem+json")
        #expect(down.header("Retry-After") != nil)
        #expect(down.json?["type"] as? String == "/problems/unavailable")
        #expect(try client.get("/api/v1/health").status == 200, "liveness does not depend on the database")

        #expect(try Stack.shell(Stack.environment["TEST_PG_START"]!) == 0)
        #expect(try Stack.eventually(within: 15) { try client.get("/api/v1/health/ready").status == 200 })
        // Every worker thread recovers on its own: several requests in a row all succeed.
        for _ in 0..<20 {
            #expect(try client.get("/api/v1/health/ready").status == 200)
        }

        // Any responder that was replaced meanwhile left because of its request limit, not because of the outage.
        let limit = Int(Stack.environment["TEST_MAX_REQUESTS"]!)!
        let replaced = before.subtracting(try Stack.responderPIDs())
        let stops = try responderLog().dropFirst(logStart).compactMap { line -> [String: Any]? in
            let fields = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            return fields?["message"] as? String == "responder stopped" ? fields : nil
        }
        for pid in replaced {
            let stop = stops.first { ($0["pid"] as? Int) == Int(pid) }
            #expect((stop?["served"] as? Int ?? 0) >= limit, "responder \(pid) was restarted without reaching its limit")
        }
    }

    @Test func killedResponderIsReplacedAndLaterRequestsSucceed() throws {
        let before = try Stack.responderPIDs()
        #expect(before.count == 2)
        let failures = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let client = self.client
        Thread.detachNewThread {
            usleep(500_000)
            if let victim = before.first { kill(victim, SIGKILL) }
            usleep(1_000_000)
            stop.store(true, ordering: .relaxed)
        }
        Stack.concurrently(8) { _ in
            while !stop.load(ordering: .relaxed) {
                if (try? client.get("/api/v1/health"))?.status != 200 { failures.add(1, ordering: .relaxed) }
            }
        }
        // At most the killed process's in-flight requests (one per worker thread) may fail.
        #expect(failures.load(ordering: .relaxed) <= 4)
        #expect(try Stack.eventually(within: 10) { try Stack.responderPIDs().count == 2 })
        #expect(try Stack.responderPIDs() != before)
        for _ in 0..<100 {
            #expect(try client.get("/api/v1/health").status == 200)
        }
    }

    @Test func aStoppingResponderAnswersItsParkedLongPollsAtOnce() throws {
        let user = try Fixtures.user("lp-stop", roles: ["user"])
        let created = try user.post("/api/v1/jobs", json: JobEndToEndTests.circuitBody(name: "stop"))
        let id = try #require(created.json?["id"] as? Int, "\(created.text)")
        let before = try Stack.responderPIDs()
        Thread.detachNewThread {
            usleep(500_000)
            // SIGTERM to both: whichever holds the request stops gracefully; multiwatch starts new ones.
            for pid in before { kill(pid, SIGTERM) }
        }
        let started = Date()
        let response = try user.get("/api/v1/jobs/\(id)?index=1&wait=60s")
        let seconds = Date().timeIntervalSince(started)
        #expect(response.status == 200)
        #expect(response.header("X-Switchyard-Index") == "1", "answered unchanged; the client polls again")
        #expect(seconds < 30, "answered when its responder stopped, not at the end of its 60 s wait: \(seconds)")
        #expect(try Stack.eventually(within: 10) { try Stack.responderPIDs().count == 2 })
    }

    @Test func responderAtItsRequestLimitIsReplacedWithoutAFailedRequest() throws {
        let limit = Int(Stack.environment["TEST_MAX_REQUESTS"]!)!
        let before = try Stack.responderPIDs()
        let failures = Atomic<Int>(0)
        let perThread = limit * 3 / 4
        let client = self.client
        Stack.concurrently(8) { _ in
            for _ in 0..<perThread {
                let response = try? client.get("/api/v1/health")
                if response?.status != 200 { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(try Stack.eventually(within: 10) { try Stack.responderPIDs().count == 2 })
        #expect(try Stack.responderPIDs().isDisjoint(with: before), "both responders passed their limit and were replaced")
    }

    /// Submits pass through their responder's batcher thread; while both responders pass their limit and are
    /// replaced, every submit is still answered, once, and stored.
    @Test func submitsSucceedWhileRespondersAreReplacedAtTheirLimit() throws {
        let limit = Int(Stack.environment["TEST_MAX_REQUESTS"]!)!
        let role = "r" + Fixtures.uniqueName("bulk").replacingOccurrences(of: "-", with: "")
        let created = try Fixtures.admin.send(
            "PUT", "/api/v1/roles/\(role)",
            json: #"{"permissions":["job:create","job:read"],"rate_per_minute":1000000,"rate_per_hour":10000000,"rate_burst":1000000}"#)
        #expect(created.status == 201)
        let user = try Fixtures.user("bulk", roles: [role])
        let before = try Stack.responderPIDs()
        let perThread = limit * 3 / 8 + 1
        let statuses = Mutex<[Int: Int]>([:])
        let ids = Mutex<Set<Int>>([])
        let client = self.client
        Stack.concurrently(8) { thread in
            for index in 0..<perThread {
                let body = #"{"name":"drain-\#(thread)-\#(index)","target":"sim-statevector","kind":"command","program":{}}"#
                let response = try? client.send(
                    "POST", "/api/v1/jobs", headers: [user.header, ("Content-Type", "application/json")],
                    body: Array(body.utf8))
                statuses.withLock { $0[response?.status ?? 0, default: 0] += 1 }
                if let id = response?.json?["id"] as? Int { ids.withLock { _ = $0.insert(id) } }
            }
        }
        let total = 8 * perThread
        #expect(statuses.withLock { $0 } == [201: total])
        #expect(ids.withLock { $0.count } == total)
        #expect(try Fixtures.sql("SELECT count(*) FROM job j JOIN principal p ON p.id = j.owner_id WHERE p.name = '\(user.name)'")
            == String(total))
        #expect(try Stack.responderPIDs() != before, "a responder passed its limit during the submits")
    }

    private func responderLog() throws -> [Substring] {
        let text = try String(contentsOfFile: Stack.environment["TEST_RESPONDER_LOG"]!, encoding: .utf8)
        return text.split(separator: "\n")
    }
}

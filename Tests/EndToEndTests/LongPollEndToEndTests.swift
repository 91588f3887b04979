import Foundation
import Synchronization
import Testing

/// Blocking queries: at once when something is newer, on a change, on timeout; the event stream in order.
@Suite(.enabled(if: Stack.isAvailable), .serialized) struct LongPollEndToEndTests {
    func newJob(_ caller: Caller) throws -> Int {
        let response = try caller.post("/api/v1/jobs", json: JobEndToEndTests.circuitBody())
        return try #require(response.json?["id"] as? Int)
    }

    /// A blocking query's duration. Only what a slow machine cannot break is asserted: that a request was held at
    /// least as long as it asked, and that one which should answer at once or on a change did not sit out a wait
    /// many times longer than the whole test needs.
    func timed(_ body: () throws -> HTTPResponse) rethrows -> (HTTPResponse, Double) {
        let start = Date()
        let response = try body()
        return (response, Date().timeIntervalSince(start))
    }

    @Test func answersAtOnceWhenTheIndexIsBehindOrZero() throws {
        let user = try Fixtures.user("lp-now", roles: ["user"])
        let id = try newJob(user)
        let (behind, seconds) = try timed { try user.get("/api/v1/jobs/\(id)?index=0&wait=30s") }
        #expect(behind.status == 200)
        #expect(behind.header("X-Switchyard-Index") == "1")
        #expect(seconds < 15, "answered at once, not after its 30 s wait: \(seconds)")
        let (plain, _) = try timed { try user.get("/api/v1/jobs/\(id)") }
        #expect(plain.header("X-Switchyard-Index") == "1")
    }

    @Test func wakesOnAChange() throws {
        let user = try Fixtures.user("lp-change", roles: ["user"])
        let id = try newJob(user)
        Thread.detachNewThread {
            usleep(500_000)
            _ = try? user.post("/api/v1/jobs/\(id)/cancel", json: "{}")
        }
        let (response, seconds) = try timed { try user.get("/api/v1/jobs/\(id)?index=1&wait=60s") }
        #expect(response.status == 200)
        #expect(response.json?["state"] as? String == "cancelled", "answered after the change")
        #expect(response.header("X-Switchyard-Index") == "2")
        #expect(seconds < 30, "woke on the change, not at the end of its 60 s wait: \(seconds)")
    }

    @Test func answersUnchangedWhenTheWaitEnds() throws {
        let user = try Fixtures.user("lp-timeout", roles: ["user"])
        let id = try newJob(user)
        let (response, seconds) = try timed { try user.get("/api/v1/jobs/\(id)?index=1&wait=1s") }
        #expect(response.status == 200)
        #expect(response.header("X-Switchyard-Index") == "1")
        #expect(response.json?["state"] as? String == "queued")
        #expect(seconds >= 0.95 && seconds < 30, "held for its wait, then answered: \(seconds)")
    }

    @Test func aNotificationWithoutAChangeDoesNotEndTheWait() throws {
        let user = try Fixtures.user("lp-spurious", roles: ["user"])
        let id = try newJob(user)
        let owner = try Fixtures.sql("SELECT owner_id FROM job WHERE id = \(id)")
        Thread.detachNewThread {
            usleep(300_000)
            // What a late announcement of a change the client has already seen looks like to the responders.
            _ = try? Fixtures.sql("SELECT pg_notify('job_changed', '\(id):\(owner)')")
        }
        let (response, seconds) = try timed { try user.get("/api/v1/jobs/\(id)?index=1&wait=2s") }
        #expect(response.status == 200)
        #expect(response.header("X-Switchyard-Index") == "1")
        #expect(seconds >= 1.95 && seconds < 30, "held until the wait ended: \(seconds)")
    }

    /// A client that leaves a long-poll: nginx closes the responder's connection, and the responder lets the request
    /// go within about a second instead of holding it for its whole wait. Its audit row says so.
    @Test func aParkedRequestWhoseClientLeftIsLetGo() throws {
        let user = try Fixtures.user("lp-gone", roles: ["user"])
        let id = try newJob(user)
        // A second connected, then gone: long enough for nginx to pass the request on and the responder to park it.
        try Stack.client.sendAndHangUp(after: 1, "GET", "/api/v1/jobs/\(id)?index=1&wait=60s", headers: [user.header])
        let gone = "SELECT count(*) FROM audit_log WHERE principal_name = '\(user.name)' AND status = 499"
            + " AND detail ->> 'delivery' = 'client_gone'"
        #expect(try Stack.eventually(within: 20) { try Fixtures.sql(gone) == "1" }, "let go long before its 60 s wait")
        let log = Stack.environment["TEST_RESPONDER_LOG"]!
        #expect(try Stack.eventually(within: 5) {
            try String(contentsOfFile: log, encoding: .utf8).contains(#""route":"/api/v1/jobs/{id}","status":499"#)
        }, "and logged like every other request")
    }

    @Test func malformedIndexOrWaitIs400() throws {
        let user = try Fixtures.user("lp-bad", roles: ["user"])
        let id = try newJob(user)
        for query in ["index=abc&wait=1s", "index=-1&wait=1s", "index=1&wait=10", "index=1&wait=ten", "index=1&wait=-5s"] {
            let response = try user.get("/api/v1/jobs/\(id)?\(query)")
            #expect(response.status == 400, "\(query)")
            #expect(response.json?["type"] as? String == "/problems/validation")
        }
        #expect(try user.get("/api/v1/jobs/\(id)?index=0&wait=2m").status == 200, "over the cap is shortened, not refused")
        #expect(try user.get("/api/v1/jobs/\(id)?index=0&wait=soon").status == 400, "checked even when it cannot block")
    }

    @Test func listWaitsForAnyVisibleChange() throws {
        let user = try Fixtures.user("lp-list", roles: ["user"])
        _ = try newJob(user)
        let first = try user.get("/api/v1/jobs")
        let index = try #require(first.header("X-Switchyard-Index").flatMap(Int.init))
        let other = try Fixtures.user("lp-list-other", roles: ["user"])
        Thread.detachNewThread {
            usleep(300_000)
            _ = try? other.post("/api/v1/jobs", json: JobEndToEndTests.circuitBody())
            usleep(400_000)
            _ = try? user.post("/api/v1/jobs", json: JobEndToEndTests.circuitBody(name: "second"))
        }
        let (response, seconds) = try timed { try user.get("/api/v1/jobs?index=\(index)&wait=60s") }
        #expect(response.status == 200)
        #expect(seconds < 30, "woke on the change, not at the end of its 60 s wait: \(seconds)")
        #expect(Int(response.header("X-Switchyard-Index") ?? "") ?? 0 > index)
        #expect(
            ((response.json?["items"] as? [[String: Any]]) ?? []).first?["name"] as? String == "second",
            "another owner's job did not answer it")
    }

    @Test func eventsArriveInOrderNoneSkippedOrRepeated() throws {
        let user = try Fixtures.user("lp-events", roles: ["user"])
        let start = try #require(try user.get("/api/v1/events?limit=1000").json?["next_after"] as? Int)
        let producers = 4
        let perProducer = 10
        let done = Atomic<Int>(0)
        Thread.detachNewThread {
            Stack.concurrently(producers) { index in
                for step in 0..<perProducer {
                    if let id = (try? user.post("/api/v1/jobs", json: JobEndToEndTests.circuitBody(name: "ev-\(index)-\(step)")))?
                        .json?["id"] as? Int, step % 2 == 0
                    {
                        _ = try? user.post("/api/v1/jobs/\(id)/cancel", json: "{}")
                    }
                }
            }
            done.store(1, ordering: .releasing)
        }
        var after = start
        var received: [Int] = []
        let deadline = Date().addingTimeInterval(30)
        let expected = producers * perProducer + producers * (perProducer / 2)
        while received.count < expected && Date() < deadline {
            let page = try user.get("/api/v1/events?after=\(after)&wait=5s&limit=7")
            #expect(page.status == 200)
            let ids = ((page.json?["items"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? Int }
            received += ids
            after = page.json?["next_after"] as? Int ?? after
        }
        #expect(received.count == expected)
        #expect(received == received.sorted() && Set(received).count == received.count, "in order, none repeated")
        let owner = try Fixtures.sql("SELECT id FROM principal WHERE name = '\(user.name)'")
        let stored = try Fixtures.sql(
            "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM job_event WHERE owner_id = \(owner) AND seq > \(start)")
        #expect(stored == received.map(String.init).joined(separator: ","), "none skipped")
        let waited = try timed { try user.get("/api/v1/events?after=\(after)&wait=1s") }
        #expect((waited.0.json?["items"] as? [[String: Any]])?.isEmpty == true)
        #expect(waited.1 >= 0.95)
    }
}

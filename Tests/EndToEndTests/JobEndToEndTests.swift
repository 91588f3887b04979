import Foundation
import Synchronization
import Testing

/// Jobs through nginx: submission rules, idempotency, the state machine as users drive it, pagination, isolation.
@Suite(.enabled(if: Stack.isAvailable)) struct JobEndToEndTests {
    static let bell = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n"

    static func circuitBody(name: String = "bell", target: String = "sim-statevector", extra: String = "") -> String {
        let program = bell.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\"", with: "\\\"")
        return #"{"name":"\#(name)","target":"\#(target)","kind":"circuit","program":"\#(program)","shots":100\#(extra)}"#
    }

    func submit(_ caller: Caller, _ body: String = circuitBody(), key: String? = nil) throws -> HTTPResponse {
        var headers = [caller.header, ("Content-Type", "application/json")]
        if let key { headers.append(("Idempotency-Key", key)) }
        return try Stack.client.send("POST", "/api/v1/jobs", headers: headers, body: Array(body.utf8))
    }

    /// Submits with an API key are authenticated by the batcher, with the others of their group: a revoked key, a
    /// missing permission and a bad body still get their problems, in that order of precedence, and every refusal
    /// its audit row.
    @Test func refusedSubmitsGetTheirProblemsAndAuditRows() throws {
        let user = try Fixtures.user("refused-submit", roles: ["user"])
        let viewer = try Fixtures.user("refused-viewer", roles: ["viewer"])
        let revoked = try #require(try user.post("/api/v1/keys", json: "{}").json?["key"] as? String)
        #expect(try user.send("DELETE", "/api/v1/keys/\(revoked.prefix(12))").status == 204)
        let revokedCaller = Caller(key: revoked)
        let refusedRevoked = try submit(revokedCaller, #"{"name":""}"#)
        #expect(refusedRevoked.status == 401)
        #expect(refusedRevoked.json?["type"] as? String == "/problems/revoked-credential")
        let refusedViewer = try submit(viewer, #"{"name":""}"#)
        #expect(refusedViewer.status == 403)
        let invalid = try submit(user, #"{"name":"","target":"sim-statevector","kind":"circuit","program":"qreg"}"#)
        #expect(invalid.status == 400)
        #expect(try submit(user).status == 201)
        let prefix = String(revoked.prefix(12))
        #expect(try Stack.eventually(within: 5) {
            try Fixtures.sql("""
                SELECT count(*) FROM audit_log WHERE route = '/api/v1/jobs' AND (
                    (key_prefix = '\(prefix)' AND event = 'auth.failure' AND status = 401)
                    OR (principal_name = '\(viewer.name)' AND status = 403)
                    OR (principal_name = '\(user.name)' AND status = 400)
                    OR (principal_name = '\(user.name)' AND event = 'job.created' AND status = 201))
                """) == "4"
        })
    }

    @Test func submitAnswers201WithLocationAndTheJob() throws {
        let user = try Fixtures.user("submit", roles: ["user"])
        let response = try submit(user)
        #expect(response.status == 201)
        let id = try #require(response.json?["id"] as? Int)
        #expect(response.header("Location") == "/api/v1/jobs/\(id)")
        #expect(response.header("X-Switchyard-Index") == "1")
        #expect(response.json?["state"] as? String == "queued")
        #expect(response.json?["qubits"] as? Int == 2)
        #expect(response.json?["owner"] as? String == user.name)
        #expect(response.json?["priority"] as? Int == 50)
        let fetched = try user.get("/api/v1/jobs/\(id)?include=program")
        #expect(fetched.json?["program"] as? String == Self.bell)
        #expect(try user.get("/api/v1/jobs/\(id)").json?["program"] is NSNull)
        let status = try user.get("/api/v1/jobs/\(id)/status")
        #expect(status.json?["state"] as? String == "queued")
        #expect(status.header("X-Switchyard-Index") == "1")
    }

    @Test func everyBadFieldIs400NamingItAndNothingIsStored() throws {
        let user = try Fixtures.user("validation", roles: ["user"])
        let ownJobs = "SELECT count(*) FROM job j JOIN principal p ON p.id = j.owner_id WHERE p.name = '\(user.name)'"
        let cases: [(String, String)] = [
            (#"{"target":"sim-statevector","kind":"circuit","program":"OPENQASM 2.0;"}"#, "name"),
            (Self.circuitBody(name: ""), "name"),
            (Self.circuitBody(name: String(repeating: "n", count: 101)), "name"),
            (Self.circuitBody(name: "<script>"), "name"),
            (Self.circuitBody(name: "tab\\there"), "name"),
            (Self.circuitBody(target: "Bad Target"), "target"),
            (Self.circuitBody(target: "group:"), "target"),
            (Self.circuitBody().replacingOccurrences(of: #""kind":"circuit""#, with: #""kind":"shell""#), "kind"),
            (#"{"name":"x","target":"_any","kind":"circuit","program":"qreg q[2]; h r[0];"}"#, "program"),
            (#"{"name":"x","target":"_any","kind":"circuit","program":42}"#, "program"),
            (#"{"name":"x","target":"_any","kind":"command","program":"ls"}"#, "program"),
            (#"{"name":"x","target":"_any","kind":"command"}"#, "program"),
            (Self.circuitBody().replacingOccurrences(of: #""shots":100"#, with: #""shots":0"#), "shots"),
            (Self.circuitBody().replacingOccurrences(of: #""shots":100"#, with: #""shots":100001"#), "shots"),
            (Self.circuitBody().replacingOccurrences(of: #""shots":100"#, with: #""shots":"many""#), "shots"),
            (#"{"name":"x","target":"_any","kind":"command","program":{"cmd":"ls"},"shots":5}"#, "shots"),
            (Self.circuitBody(extra: #","priority":0"#), "priority"),
            (Self.circuitBody(extra: #","priority":101"#), "priority"),
            (Self.circuitBody(extra: #","max_duration_s":0"#), "max_duration_s"),
            (Self.circuitBody(extra: #","metadata":[1,2]"#), "metadata"),
            (Self.circuitBody(extra: #","metadata":{"seed":"abc"}"#), "metadata.seed"),
            (Self.circuitBody(extra: #","metadata":{"seed":-1}"#), "metadata.seed"),
            (Self.circuitBody(extra: #","metadata":{"seed":42.5}"#), "metadata.seed"),
            (Self.circuitBody(extra: #","metadata":{"pad":"\#(String(repeating: "x", count: 70_000))"}"#), "metadata"),
            // 7 KB as sent, 300 KB as PostgreSQL stores it (numbers written out in full): the table refuses it.
            (Self.circuitBody(extra: #","metadata":{"a":[\#(Array(repeating: "1e300", count: 1000).joined(separator: ","))]}"#),
                "metadata"),
            // 60 characters on screen, 120 code points (each `e` with a combining accent), as the table counts them.
            (Self.circuitBody(name: String(repeating: #"e\u0301"#, count: 60)), "name"),
            (Self.circuitBody(extra: #","colour":"blue""#), "colour"),
        ]
        for (body, field) in cases {
            let response = try submit(user, body)
            #expect(response.status == 400, "\(field): \(response.status)")
            let fields = ((response.json?["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String }
            #expect(fields.contains(field), "\(field): \(response.text.prefix(300))")
        }
        let parseError = try submit(user, #"{"name":"x","target":"_any","kind":"circuit","program":"OPENQASM 2.0;\nqreg q[2];\nfoo q[0];"}"#)
        let message = ((parseError.json?["errors"] as? [[String: Any]])?.first?["message"] as? String) ?? ""
        #expect(message.contains("line 3, column 1"), "\(message)")
        let tooBig = try submit(user, Self.circuitBody().replacingOccurrences(of: "OPENQASM 2.0;", with: String(repeating: " ", count: 11 * 1024 * 1024)))
        #expect(tooBig.status == 413 || tooBig.status == 400)
        #expect(try Fixtures.sql(ownJobs) == "0", "nothing was stored")
        #expect(try Stack.client.send("POST", "/api/v1/jobs", headers: [user.header], body: Array("x".utf8)).status == 415)
    }

    /// 64 KB of metadata is measured as sent, without spaces; the table's backstop leaves room for PostgreSQL's
    /// rendering with them (0014_metadata_backstop_fits_the_api_rule.sql).
    @Test func metadataJustUnderTheLimitIsStored() throws {
        let user = try Fixtures.user("metadata", roles: ["user"])
        let members = (0..<5_400).map { #""k\#(String(format: "%05d", $0))":1"# }.joined(separator: ",")
        #expect(members.utf8.count > 59_000 && members.utf8.count < 64 * 1024)
        let response = try submit(user, Self.circuitBody(extra: #","metadata":{\#(members)}"#))
        #expect(response.status == 201, "\(response.text.prefix(300))")
    }

    @Test func idempotentSubmissions() throws {
        let user = try Fixtures.user("idempotent", roles: ["user"])
        let key = UUID().uuidString
        let first = try submit(user, key: key)
        #expect(first.status == 201)
        let again = try submit(user, key: key)
        #expect(again.status == 200)
        #expect(again.json?["id"] as? Int == first.json?["id"] as? Int)
        let different = try submit(user, Self.circuitBody(name: "other"), key: key)
        #expect(different.status == 422)
        #expect(different.json?["type"] as? String == "/problems/idempotency-key-reused")
        let other = try Fixtures.user("idempotent-other", roles: ["user"])
        #expect(try submit(other, key: key).status == 201, "keys are per owner")

        // Racing duplicates: the unique key decides, exactly one job is created.
        let raceKey = UUID().uuidString
        let statuses = Mutex<[Int]>([])
        let ids = Mutex<Set<Int>>([])
        Stack.concurrently(8) { _ in
            guard let response = try? self.submit(user, key: raceKey) else { return }
            statuses.withLock { $0.append(response.status) }
            if let id = response.json?["id"] as? Int { ids.withLock { _ = $0.insert(id) } }
        }
        #expect(statuses.withLock { $0.sorted() } == [200, 200, 200, 200, 200, 200, 200, 201])
        #expect(ids.withLock { $0.count } == 1)
    }

    @Test func aKeyWhoseJobWasDeletedIsAConflict() throws {
        let user = try Fixtures.user("idempotent-deleted", roles: ["researcher"])
        let key = UUID().uuidString
        let id = try #require(try submit(user, key: key).json?["id"] as? Int)
        #expect(try user.post("/api/v1/jobs/\(id)/cancel", json: "{}").status == 200)
        #expect(try user.send("DELETE", "/api/v1/jobs/\(id)").status == 204)
        let again = try submit(user, key: key)
        #expect(again.status == 409)
        #expect((again.json?["detail"] as? String)?.contains("deleted") == true, "\(again.text)")
        let items = try user.get("/api/v1/jobs").json?["items"] as? [[String: Any]]
        #expect(items?.isEmpty == true, "the replay made no new job")
    }

    @Test func anotherOwnersJobIsNotFound() throws {
        let alice = try Fixtures.user("iso-a", roles: ["researcher"])
        let bob = try Fixtures.user("iso-b", roles: ["researcher"])
        let id = try #require(try submit(alice).json?["id"] as? Int)
        for (method, path) in [
            ("GET", "/api/v1/jobs/\(id)"), ("GET", "/api/v1/jobs/\(id)/status"), ("GET", "/api/v1/jobs/\(id)/results"),
            ("POST", "/api/v1/jobs/\(id)/cancel"), ("POST", "/api/v1/jobs/\(id)/retry"), ("DELETE", "/api/v1/jobs/\(id)"),
        ] {
            let response = try bob.send(method, path, json: method == "POST" ? "{}" : nil)
            #expect(response.status == 404, "\(method) \(path)")
        }
        let bobs = try bob.get("/api/v1/jobs")
        #expect((bobs.json?["items"] as? [[String: Any]])?.isEmpty == true)
        #expect(try Fixtures.admin.get("/api/v1/jobs/\(id)").status == 200, "administrators see every owner")
        let filtered = try Fixtures.admin.get("/api/v1/jobs?owner=\(alice.name)")
        #expect(((filtered.json?["items"] as? [[String: Any]]) ?? []).map { $0["id"] as? Int } == [id])
        #expect(try bob.get("/api/v1/jobs?owner=\(alice.name)").status == 400)
    }

    @Test func cancelRetryDeleteAndResultsFollowTheStateMachine() throws {
        let user = try Fixtures.user("lifecycle", roles: ["researcher"])
        let id = try #require(try submit(user).json?["id"] as? Int)
        let early = try user.get("/api/v1/jobs/\(id)/results")
        #expect(early.status == 409)
        #expect(early.json?["current_state"] as? String == "queued")
        let notFinished = try user.send("DELETE", "/api/v1/jobs/\(id)")
        #expect(notFinished.status == 409)
        #expect(notFinished.json?["current_state"] as? String == "queued")
        let notRunning = try user.post("/api/v1/jobs/\(id)/extend", json: #"{"seconds":60}"#)
        #expect(notRunning.status == 409)
        let notFailed = try user.post("/api/v1/jobs/\(id)/retry", json: "{}")
        #expect(notFailed.status == 409)

        let cancelled = try user.post("/api/v1/jobs/\(id)/cancel", json: "{}")
        #expect(cancelled.status == 200)
        #expect(cancelled.json?["state"] as? String == "cancelled")
        let twice = try user.post("/api/v1/jobs/\(id)/cancel", json: "{}")
        #expect(twice.status == 409)
        #expect(twice.json?["current_state"] as? String == "cancelled")
        let results = try user.get("/api/v1/jobs/\(id)/results")
        #expect(results.status == 200)
        #expect(results.json?["state"] as? String == "cancelled")

        let retried = try user.post("/api/v1/jobs/\(id)/retry", json: "{}")
        #expect(retried.status == 200)
        #expect(retried.json?["state"] as? String == "queued")
        #expect(try user.post("/api/v1/jobs/\(id)/cancel", json: "{}").status == 200)
        #expect(try user.send("DELETE", "/api/v1/jobs/\(id)").status == 204)
        #expect(try user.get("/api/v1/jobs/\(id)").status == 404)
        let events = try Fixtures.sql(
            "SELECT string_agg(coalesce(to_state::text, kind), ',' ORDER BY id) FROM job_event WHERE job_id = \(id)")
        #expect(events == "queued,cancelled,queued,cancelled,deleted")
    }

    @Test func runningJobsAreCancelRequestedAndExtendable() throws {
        let user = try Fixtures.user("running", roles: ["researcher"])
        let id = try #require(try submit(user).json?["id"] as? Int)
        // Stand in for the scheduler and an executor: the state machine still checks every step.
        try Fixtures.sql("UPDATE job SET state = 'scheduled', device_id = 'sim-statevector' WHERE id = \(id)")
        try Fixtures.sql("UPDATE job SET state = 'running', lease_owner = 'test', lease_expires_at = now() + interval '1 minute' WHERE id = \(id)")
        let extended = try user.post("/api/v1/jobs/\(id)/extend", json: #"{"seconds":600}"#)
        #expect(extended.status == 200)
        let tooLong = try user.post("/api/v1/jobs/\(id)/extend", json: #"{"seconds":3601}"#)
        #expect(tooLong.status == 400)
        for _ in 0..<36 { _ = try user.post("/api/v1/jobs/\(id)/extend", json: #"{"seconds":3600}"#) }
        let beyond = try user.post("/api/v1/jobs/\(id)/extend", json: #"{"seconds":3600}"#)
        #expect(beyond.status == 409, "at most 24 hours of extensions in all")
        // The budget is on top of the job's own limit, however long that is.
        let long = try #require(try submit(user, Self.circuitBody(extra: #","max_duration_s":172800"#)).json?["id"] as? Int)
        try Fixtures.sql("UPDATE job SET state = 'scheduled', device_id = 'sim-statevector' WHERE id = \(long)")
        try Fixtures.sql("UPDATE job SET state = 'running', lease_owner = 'test', lease_expires_at = now() + interval '1 minute' WHERE id = \(long)")
        #expect(try user.post("/api/v1/jobs/\(long)/extend", json: #"{"seconds":3600}"#).status == 200)
        #expect(try user.post("/api/v1/jobs/\(long)/cancel", json: "{}").status == 200)
        let cancel = try user.post("/api/v1/jobs/\(id)/cancel", json: "{}")
        #expect(cancel.status == 200)
        #expect(cancel.json?["state"] as? String == "running")
        #expect(cancel.json?["cancel_requested"] as? Bool == true)
        let refused = try Stack.run(
            "/usr/bin/psql", [Stack.environment["TEST_DATABASE_URL"]!, "-X", "-q", "-c", "UPDATE job SET state = 'queued' WHERE id = \(id)"])
        #expect(refused.status != 0)
        #expect(refused.error.contains("cannot go from running to queued"))
    }

    @Test func aFilterGivenTwiceIs400() throws {
        let user = try Fixtures.user("twice", roles: ["user"])
        let response = try user.get("/api/v1/jobs?status=queued&status=failed")
        #expect(response.status == 400)
        #expect(response.json?["type"] as? String == "/problems/validation")
        let fields = ((response.json?["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String }
        #expect(fields == ["status"])
    }

    @Test func cursorPagesStayCorrectWhileJobsAreAdded() throws {
        let user = try Fixtures.user("pages", roles: ["user"])
        var created: [Int] = []
        for index in 0..<23 { created.append(try #require(try submit(user, Self.circuitBody(name: "page-\(index)")).json?["id"] as? Int)) }
        var seen: [Int] = []
        var cursor: String?
        var pages = 0
        var firstLate: Int?
        repeat {
            // A new job that matches the filter arrives before every page: only the one before the first page may
            // appear (it is the newest then), and none may shift a later page (paging by offset would repeat a job).
            let late = try submit(user, Self.circuitBody(name: "page-late-\(pages)")).json?["id"] as? Int
            if pages == 0 { firstLate = late }
            let page = try user.get("/api/v1/jobs?name=page-&limit=5" + (cursor.map { "&cursor=\($0)" } ?? ""))
            #expect(page.status == 200)
            let ids = ((page.json?["items"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? Int }
            cursor = page.json?["next_cursor"] as? String
            if cursor != nil { #expect(ids.count == 5, "a page is full while more rows match") }
            seen += ids
            pages += 1
        } while cursor != nil && pages < 10
        #expect(seen == [try #require(firstLate)] + created.reversed(), "every filtered job once, newest first")
        #expect(pages == 5)
        let filtered = try user.get("/api/v1/jobs?status=queued,cancelled&kind=circuit&target=sim-statevector&limit=500")
        #expect(((filtered.json?["items"] as? [[String: Any]]) ?? []).count == 23 + 5)
        #expect(try user.get("/api/v1/jobs?status=bogus").status == 400)
        #expect(try user.get("/api/v1/jobs?created_after=yesterday").status == 400)
        #expect(try user.get("/api/v1/jobs?limit=0").status == 400)
        #expect(try user.get("/api/v1/jobs?sort=name").status == 400)
    }

    @Test func queueStatsAndClusterStatus() throws {
        let allJobStates: Set<String> = ["queued", "scheduled", "running", "succeeded", "failed", "cancelled", "timed_out"]
        let user = try Fixtures.user("stats", roles: ["user"])
        _ = try submit(user)
        let stats = try user.get("/api/v1/queue/stats")
        #expect(stats.status == 200)
        #expect((stats.json?["queued"] as? Int ?? 0) >= 1)
        let byState = try #require(stats.json?["by_state"] as? [String: Int])
        #expect(Set(byState.keys) == allJobStates, "every state, 0 when none")
        #expect(byState["queued"] ?? 0 >= 1)
        #expect(stats.json?["oldest_queued_age_s"] is Double)
        let cluster = try user.get("/api/v1/cluster/status")
        #expect(cluster.status == 200)
        #expect((cluster.json?["devices_by_status"] as? [String: Any])?["online"] as? Int ?? 0 >= 1)
        #expect(cluster.json?["queue_depth"] is Int)
        #expect((cluster.json?["jobs_by_state"] as? [String: Int])?.keys.sorted() == allJobStates.sorted())
    }
}

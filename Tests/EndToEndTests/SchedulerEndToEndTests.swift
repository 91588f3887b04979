import Foundation
import Glibc
import Synchronization
import Testing

/// The scheduler batch against the live database: placement, fit failures, reservations, concurrency, SIGKILL.
@Suite(.enabled(if: Stack.isAvailable), .serialized) struct SchedulerEndToEndTests {
    let scheduler = (Stack.environment["TEST_BIN_DIR"] ?? "") + "/switchyard-scheduler"

    /// A fresh device with a unique label, so that other tests' jobs never land on it. Bulk tests use hosts and
    /// command jobs, which no executor of the test stack picks up.
    func makeDevice(capacity: Int, qubits: Int = 10, kind: String = "simulator") throws -> String {
        let id = Fixtures.uniqueName("dev")
        let created = try Fixtures.admin.post(
            "/api/v1/devices",
            json: #"{"id":"\#(id)","kind":"\#(kind)","capacity":\#(capacity),"labels":["\#(id)"],"properties":{"qubits":\#(qubits)}}"#)
        #expect(created.status == 201, "\(created.text)")
        return id
    }

    func runScheduler(_ extra: [String] = []) throws -> (status: Int32, output: String) {
        let result = try Stack.run(scheduler, ["--seconds", "20", "--until-idle"] + extra)
        return (result.status, result.output + result.error)
    }

    func states(_ ids: [Int]) throws -> [String: Int] {
        let text = try Fixtures.sql(
            "SELECT string_agg(state || '=' || n, ',') FROM (SELECT state, count(*) n FROM job WHERE id IN (\(ids.map(String.init).joined(separator: ","))) GROUP BY state) s")
        return Dictionary(uniqueKeysWithValues: text.split(separator: ",").map { pair in
            let parts = pair.split(separator: "=")
            return (String(parts[0]), Int(parts[1])!)
        })
    }

    @Test func placesWithinCapacityAndFailsWhatCanNeverFit() throws {
        let device = try makeDevice(capacity: 3, qubits: 4)
        let user = try Fixtures.user("sched", roles: ["user"])
        var ids: [Int] = []
        for index in 0..<5 {
            let body = JobEndToEndTests.circuitBody(name: "fit-\(index)", target: "group:\(device)")
            ids.append(try #require(try user.post("/api/v1/jobs", json: body).json?["id"] as? Int))
        }
        let big = "OPENQASM 2.0;\\ninclude \\\"qelib1.inc\\\";\\nqreg q[6];\\ncreg c[6];\\nmeasure q -> c;\\n"
        let tooBig = try #require(try user.post(
            "/api/v1/jobs", json: #"{"name":"big","target":"\#(device)","kind":"circuit","program":"\#(big)"}"#).json?["id"] as? Int)
        let nowhere = try #require(try user.post(
            "/api/v1/jobs", json: JobEndToEndTests.circuitBody(name: "nowhere", target: "no-such-device")).json?["id"] as? Int)
        let run = try runScheduler()
        #expect(run.status == 0, "\(run.output)")
        #expect(try states(ids) == ["scheduled": 3, "queued": 2])
        let failed = try user.get("/api/v1/jobs/\(tooBig)")
        #expect(failed.json?["state"] as? String == "failed")
        #expect((failed.json?["error"] as? String)?.contains("has 4 qubits; the circuit needs 6") == true)
        #expect((try user.get("/api/v1/jobs/\(nowhere)").json?["error"] as? String) == "target device no-such-device does not exist")
        let status = try user.get("/api/v1/devices/\(device)/status")
        #expect(status.json?["scheduled"] as? Int == 3)
        #expect(status.json?["utilization"] as? Double == 1.0)
    }

    /// A round splits its owners between two sessions, but one plan decides for all of them: the device's four
    /// slots go to the urgent jobs of the later owners (the second session's half), one per owner, and no more.
    @Test func oneRoundPlansForBothOfItsSessions() throws {
        let device = try makeDevice(capacity: 4, kind: "host")
        var routine: [Int] = []
        var urgent: [Int] = []
        for index in 0..<8 {
            let owner = try Fixtures.user("half", roles: ["operator"])
            for copy in 0..<2 {
                let priority = index < 4 ? 10 : 90
                let body = #"{"name":"half-\#(index)-\#(copy)","target":"\#(device)","kind":"command","program":{"run":"true"},"priority":\#(priority)}"#
                let id = try #require(try owner.post("/api/v1/jobs", json: body).json?["id"] as? Int)
                if index < 4 { routine.append(id) } else { urgent.append(id) }
            }
        }
        let run = try runScheduler()
        #expect(run.status == 0, "\(run.output)")
        #expect(try states(routine) == ["queued": 8])
        #expect(try states(urgent) == ["scheduled": 4, "queued": 4])
        let scheduledPerOwner = try Fixtures.sql(
            "SELECT string_agg(n::text, ',') FROM (SELECT count(*) AS n FROM job WHERE state = 'scheduled' AND id IN (\(urgent.map(String.init).joined(separator: ","))) GROUP BY owner_id) s")
        #expect(scheduledPerOwner == "1,1,1,1")
        let counted = try Fixtures.sql("SELECT active_jobs FROM device WHERE id = '\(device)'")
        #expect(counted == "4")
    }

    @Test func jobsWaitingForAFullDeviceDoNotHoldBackTheirOwnersOtherJobs() throws {
        let busy = try makeDevice(capacity: 1, kind: "host")
        let idle = try makeDevice(capacity: 5, kind: "host")
        let user = try Fixtures.user("hol", roles: ["operator"])
        func submit(_ name: String, target: String, priority: Int) throws -> Int {
            let body = #"{"name":"\#(name)","target":"\#(target)","kind":"command","program":{"run":"true"},"priority":\#(priority)}"#
            return try #require(try user.post("/api/v1/jobs", json: body).json?["id"] as? Int)
        }
        let first = try submit("busy-first", target: busy, priority: 90)
        #expect(try runScheduler().status == 0)
        #expect(try states([first]) == ["scheduled": 1])
        let waiting = try (0..<30).map { try submit("busy-\($0)", target: busy, priority: 90) }
        let other = try submit("idle-low", target: idle, priority: 10)
        // Rounds of 20 jobs: without the filter the owner's 20 best jobs would all wait for the busy device.
        let run = try runScheduler(["--batch-size", "20"])
        #expect(run.status == 0, "\(run.output)")
        #expect(try states([other]) == ["scheduled": 1])
        #expect(try states(waiting) == ["queued": 30])
    }

    /// Asks for a reservation of `device` from `start` to `end` seconds after `now` (one `now` per test, so that
    /// ranges meant to touch do).
    func reserve(_ caller: Caller, _ device: String, from start: TimeInterval, to end: TimeInterval, now: Date) throws
        -> HTTPResponse
    {
        let stamp = { (offset: TimeInterval) in ISO8601DateFormatter().string(from: now.addingTimeInterval(offset)) }
        return try caller.post(
            "/api/v1/devices/\(device)/reservations", json: #"{"start":"\#(stamp(start))","end":"\#(stamp(end))"}"#)
    }

    @Test func jobsForADeviceSomeoneElseReservedDoNotHoldBackTheirOwnersOtherJobs() throws {
        let reserved = try makeDevice(capacity: 5, kind: "host")
        let idle = try makeDevice(capacity: 5, kind: "host")
        let holder = try Fixtures.user("res-holder", roles: ["operator"])
        let user = try Fixtures.user("res-waiting", roles: ["operator"])
        let reservation = try reserve(holder, reserved, from: -1, to: 3600, now: Date())
        #expect(reservation.status == 201, "\(reservation.text)")
        func submit(_ caller: Caller, _ name: String, target: String, priority: Int) throws -> Int {
            let body = #"{"name":"\#(name)","target":"\#(target)","kind":"command","program":{"run":"true"},"priority":\#(priority)}"#
            return try #require(try caller.post("/api/v1/jobs", json: body).json?["id"] as? Int)
        }
        let waiting = try (0..<30).map { try submit(user, "reserved-\($0)", target: reserved, priority: 90) }
        let other = try submit(user, "idle-low", target: idle, priority: 10)
        let held = try submit(holder, "held", target: reserved, priority: 50)
        // Rounds of 20 jobs: without the filter the owner's 20 best jobs would all wait for the reserved device.
        let run = try runScheduler(["--batch-size", "20"])
        #expect(run.status == 0, "\(run.output)")
        #expect(try states([other]) == ["scheduled": 1])
        #expect(try states([held]) == ["scheduled": 1], "the holder's job still goes to its reserved device")
        #expect(try states(waiting) == ["queued": 30])
        for id in waiting + [other, held] { _ = try Fixtures.admin.post("/api/v1/jobs/\(id)/cancel", json: "{}") }
    }

    @Test func deletingAnActiveJobGivesItsSlotBack() throws {
        let device = try makeDevice(capacity: 1, kind: "host")
        let user = try Fixtures.user("slot", roles: ["operator"])
        let body = #"{"name":"slot","target":"\#(device)","kind":"command","program":{"run":"true"}}"#
        let first = try #require(try user.post("/api/v1/jobs", json: body).json?["id"] as? Int)
        let second = try #require(try user.post("/api/v1/jobs", json: body).json?["id"] as? Int)
        #expect(try runScheduler().status == 0)
        #expect(try states([first, second]) == ["scheduled": 1, "queued": 1])
        _ = try Fixtures.sql("DELETE FROM job WHERE id = \(first)")
        #expect(try Fixtures.sql("SELECT active_jobs FROM device WHERE id = '\(device)'") == "0")
        #expect(try runScheduler().status == 0)
        #expect(try states([second]) == ["scheduled": 1])
    }

    @Test func reservationsRefuseOverlapsAndKeepOthersOff() throws {
        let device = try makeDevice(capacity: 5)
        let holder = try Fixtures.user("holder", roles: ["researcher"])
        let other = try Fixtures.user("outsider", roles: ["researcher"])
        let now = Date()
        let reserved = try reserve(holder, device, from: -60, to: 3600, now: now)
        #expect(reserved.status == 201, "\(reserved.text)")
        let overlap = try reserve(other, device, from: 1800, to: 7200, now: now)
        #expect(overlap.status == 409)
        let backwards = try reserve(other, device, from: 7200, to: 3700, now: now)
        #expect(backwards.status == 400)
        let past = try reserve(other, device, from: -86400, to: -3600 + 86400 * 2, now: now)
        #expect(past.status == 400, "time that has gone cannot be reserved")
        #expect((past.json?["errors"] as? [[String: Any]])?.first?["field"] as? String == "start")
        let tooLong = try reserve(other, device, from: 7200, to: 7200 + 31 * 86400, now: now)
        #expect(tooLong.status == 400, "at most 30 days")
        let later = try reserve(other, device, from: 3600, to: 7200, now: now)
        #expect(later.status == 201, "adjacent ranges do not overlap")
        let outsiderJob = try #require(try other.post(
            "/api/v1/jobs", json: JobEndToEndTests.circuitBody(target: device)).json?["id"] as? Int)
        let holderJob = try #require(try holder.post(
            "/api/v1/jobs", json: JobEndToEndTests.circuitBody(target: device)).json?["id"] as? Int)
        _ = try runScheduler()
        #expect(try other.get("/api/v1/jobs/\(outsiderJob)").json?["state"] as? String == "queued")
        #expect(try holder.get("/api/v1/jobs/\(holderJob)").json?["state"] as? String == "scheduled")
        let list = try other.get("/api/v1/devices/\(device)/reservations")
        let items = (list.json?["items"] as? [[String: Any]]) ?? []
        #expect(items.count == 2)
        // Everyone sees when; only the holder (and admins) see who.
        #expect(items.map { $0["holder"] as? String } == [nil, other.name])
        let holderView = (try holder.get("/api/v1/devices/\(device)/reservations").json?["items"] as? [[String: Any]]) ?? []
        #expect(holderView.map { $0["holder"] as? String } == [holder.name, nil])
        let adminView = (try Fixtures.admin.get("/api/v1/devices/\(device)/reservations").json?["items"] as? [[String: Any]]) ?? []
        #expect(adminView.map { $0["holder"] as? String } == [holder.name, other.name])
        let status = try other.get("/api/v1/devices/\(device)/status")
        #expect((status.json?["next_reservation"] as? [String: Any]).map { $0["holder"] is NSNull } == true)
        let reservationID = try #require(reserved.json?["id"] as? Int)
        #expect(try other.send("DELETE", "/api/v1/devices/\(device)/reservations/\(reservationID)").status == 404)
        #expect(try holder.send("DELETE", "/api/v1/devices/\(device)/reservations/\(reservationID)").status == 204)
    }

    @Test func twoSchedulersAtOnceAssignEachJobOnce() throws {
        let device = try makeDevice(capacity: 100_000, kind: "host")
        let owners = try (0..<3).map { try Fixtures.user("pair-\($0)", roles: ["user"]) }
        let ownerIDs = try owners.map { try Fixtures.sql("SELECT id FROM principal WHERE name = '\($0.name)'") }
        for owner in ownerIDs {
            try Fixtures.sql("""
                INSERT INTO job (owner_id, name, kind, target, program)
                SELECT \(owner), 'bulk', 'command', 'group:\(device)', '{"run":"true"}' FROM generate_series(1, 2000)
                """)
        }
        let results = Mutex<[Int32]>([])
        let scheduler = self.scheduler
        Stack.concurrently(2) { _ in
            let result = try? Stack.run(scheduler, ["--seconds", "20", "--until-idle", "--batch-size", "200"])
            results.withLock { $0.append(result?.status ?? -1) }
        }
        let statuses = results.withLock { $0.sorted() }
        #expect(statuses == [0, 0] || statuses == [0, 75], "\(statuses)")
        let counts = try Fixtures.sql("""
            SELECT count(*) FILTER (WHERE state = 'scheduled') || ' ' || count(*) FROM job WHERE target = 'group:\(device)'
            """)
        #expect(counts == "6000 6000")
        let twice = try Fixtures.sql("""
            SELECT count(*) FROM (SELECT job_id FROM job_event e JOIN job j ON j.id = e.job_id
            WHERE j.target = 'group:\(device)' AND e.to_state = 'scheduled' GROUP BY job_id HAVING count(*) <> 1) x
            """)
        #expect(twice == "0", "every job scheduled exactly once")
    }

    @Test func aSchedulerKilledMidRunLeavesConsistentState() throws {
        let device = try makeDevice(capacity: 100_000, kind: "host")
        let user = try Fixtures.user("killed", roles: ["user"])
        let owner = try Fixtures.sql("SELECT id FROM principal WHERE name = '\(user.name)'")
        try Fixtures.sql("""
            INSERT INTO job (owner_id, name, kind, target, program)
            SELECT \(owner), 'bulk', 'command', 'group:\(device)', '{"run":"true"}' FROM generate_series(1, 20000)
            """)
        var pid = pid_t()
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(scheduler), strdup("--batch-size"), strdup("50"), strdup("--until-idle"), nil]
        let environment = Stack.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        try #require(posix_spawn(&pid, scheduler, nil, nil, argv, environment) == 0)
        // Killed as soon as it has placed something: mid-run, with most of the backlog still to go.
        let started = try Stack.eventually(within: 30) {
            try Fixtures.sql("SELECT count(*) FROM job WHERE target = 'group:\(device)' AND state = 'scheduled'") != "0"
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let partial = try Fixtures.sql("""
            SELECT count(*) FILTER (WHERE state = 'scheduled') || ' ' || count(*) FILTER (WHERE state = 'queued')
            || ' ' || count(*) FILTER (WHERE state = 'scheduled' AND device_id IS NULL)
            FROM job WHERE target = 'group:\(device)'
            """).split(separator: " ").map { Int($0)! }
        #expect(partial[0] + partial[1] == 20000, "every job placed or still queued")
        #expect(partial[2] == 0)
        try #require(started)
        #expect(partial[0] > 0 && partial[0] < 20000, "killed mid-run (placed \(partial[0]))")
        let rerun = try runScheduler()
        #expect(rerun.status == 0, "the lock died with the killed session: \(rerun.output)")
        #expect(try Fixtures.sql("SELECT count(*) FROM job WHERE target = 'group:\(device)' AND state = 'scheduled'") == "20000")
    }

    @Test func overdueRunningJobsTimeOut() throws {
        let device = try makeDevice(capacity: 2)
        let user = try Fixtures.user("overdue", roles: ["user"])
        let id = try #require(try user.post(
            "/api/v1/jobs", json: JobEndToEndTests.circuitBody(target: device, extra: #","max_duration_s":1"#)).json?["id"] as? Int)
        _ = try runScheduler()
        try Fixtures.sql("UPDATE job SET state = 'running', lease_owner = 't', lease_expires_at = now() + interval '1 hour' WHERE id = \(id)")
        try Fixtures.sql("UPDATE job SET deadline_at = now() - interval '1 second' WHERE id = \(id)")
        _ = try runScheduler()
        let job = try user.get("/api/v1/jobs/\(id)")
        #expect(job.json?["state"] as? String == "timed_out")
        #expect(try user.get("/api/v1/jobs/\(id)/results").json?["error"] as? String == "ran longer than its max_duration_s")
    }
}

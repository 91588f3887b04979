import Foundation
import Glibc
import Synchronization
import Testing

/// Circuit jobs from submission to results through the batches, and the circuit endpoints.
@Suite(.enabled(if: Stack.isAvailable), .serialized) struct SimulationEndToEndTests {
    let bin = Stack.environment["TEST_BIN_DIR"] ?? ""
    /// The simulator binary: a release build when scripts/test provides one (a debug build simulates slowly).
    let simulatorPath = Stack.environment["TEST_SIMULATOR_BIN"] ?? ((Stack.environment["TEST_BIN_DIR"] ?? "") + "/switchyard-simulator")

    func makeDevice(qubits: Int = 28, capacity: Int = 10) throws -> String {
        let id = Fixtures.uniqueName("sim")
        let created = try Fixtures.admin.post(
            "/api/v1/devices",
            json: #"{"id":"\#(id)","kind":"simulator","capacity":\#(capacity),"properties":{"qubits":\#(qubits)}}"#)
        #expect(created.status == 201)
        return id
    }

    func submit(_ caller: Caller, program: String, device: String, shots: Int = 1024, seed: Int? = nil) throws -> Int {
        let escaped = program.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\"", with: "\\\"")
        let metadata = seed.map { #","metadata":{"seed":"\#($0)"}"# } ?? ""
        let response = try caller.post(
            "/api/v1/jobs",
            json: #"{"name":"sim","target":"\#(device)","kind":"circuit","program":"\#(escaped)","shots":\#(shots)\#(metadata)}"#)
        #expect(response.status == 201, "\(response.text)")
        return try #require(response.json?["id"] as? Int)
    }

    func runBatches() throws {
        let scheduled = try Stack.run(bin + "/switchyard-scheduler", ["--seconds", "20", "--until-idle"])
        #expect(scheduled.status == 0, "\(scheduled.output) \(scheduled.error)")
        let simulated = try Stack.run(simulatorPath, ["--seconds", "60", "--until-idle"])
        #expect(simulated.status == 0, "\(simulated.output) \(simulated.error)")
    }

    static let bell = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n"

    @Test func aJobPlacedBeforeAReservationOrAnOutageWaitsForIt() throws {
        let device = try makeDevice()
        let holder = try Fixtures.user("sim-holder", roles: ["researcher"])
        let outsider = try Fixtures.user("sim-outsider", roles: ["researcher"])
        let early = try submit(outsider, program: Self.bell, device: device)
        let scheduled = try Stack.run(bin + "/switchyard-scheduler", ["--seconds", "20", "--until-idle"])
        #expect(scheduled.status == 0)
        #expect(try outsider.get("/api/v1/jobs/\(early)").json?["state"] as? String == "scheduled")

        // The holder's reservation begins after the outsider's job was placed: only the holder's job runs.
        let now = Date()
        func stamp(_ offset: TimeInterval) -> String { ISO8601DateFormatter().string(from: now.addingTimeInterval(offset)) }
        let reserved = try holder.post(
            "/api/v1/devices/\(device)/reservations", json: #"{"start":"\#(stamp(-1))","end":"\#(stamp(3600))"}"#)
        #expect(reserved.status == 201, "\(reserved.text)")
        let held = try submit(holder, program: Self.bell, device: device)
        try runBatches()
        #expect(try holder.get("/api/v1/jobs/\(held)").json?["state"] as? String == "succeeded")
        #expect(try outsider.get("/api/v1/jobs/\(early)").json?["state"] as? String == "scheduled", "it waits for the reservation")

        // Nothing starts on a device in maintenance, not even the holder's.
        #expect(try Fixtures.admin.send("PATCH", "/api/v1/devices/\(device)", json: #"{"status":"maintenance"}"#).status == 200)
        let paused = try submit(holder, program: Self.bell, device: device)
        try Fixtures.sql("UPDATE job SET state = 'scheduled', device_id = '\(device)' WHERE id = \(paused)")
        let simulated = try Stack.run(simulatorPath, ["--seconds", "60", "--until-idle"])
        #expect(simulated.status == 0)
        #expect(try holder.get("/api/v1/jobs/\(paused)").json?["state"] as? String == "scheduled")

        for (caller, id) in [(outsider, early), (holder, paused)] {
            #expect(try caller.post("/api/v1/jobs/\(id)/cancel", json: "{}").status == 200)
        }
    }

    @Test func aCircuitJobRunsToItsCounts() throws {
        let device = try makeDevice()
        let user = try Fixtures.user("bell", roles: ["user"])
        let id = try submit(user, program: Self.bell, device: device, shots: 2000)
        try runBatches()
        let job = try user.get("/api/v1/jobs/\(id)")
        #expect(job.json?["state"] as? String == "succeeded", "\(job.text)")
        let results = try user.get("/api/v1/jobs/\(id)/results")
        #expect(results.status == 200)
        let result = try #require(results.json?["result"] as? [String: Any])
        let counts = try #require(result["counts"] as? [String: Int])
        #expect(Set(counts.keys).isSubset(of: ["00", "11"]))
        #expect(counts.values.reduce(0, +) == 2000)
        #expect((counts["00"] ?? 0) > 800 && (counts["11"] ?? 0) > 800)
        #expect(result["shots"] as? Int == 2000)
        #expect(result["qubits"] as? Int == 2)
        #expect(result["depth"] as? Int == 3)
        #expect((result["gate_counts"] as? [String: Int])?["cx"] == 1)
        #expect(result["simulation_seconds"] is Double)
        #expect(result["seed"] is String)
        #expect(result["method"] as? String == "final-state", "as the command line and the docs name it")
        #expect(result["device_id"] as? String == device)
    }

    @Test func aSeedMakesRunsReproducible() throws {
        let device = try makeDevice()
        let user = try Fixtures.user("seeded", roles: ["user"])
        let program = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[3];\ncreg c[3];\nh q;\nry(0.3) q[1];\nmeasure q -> c;\n"
        let first = try submit(user, program: program, device: device, seed: 42)
        let second = try submit(user, program: program, device: device, seed: 42)
        let other = try submit(user, program: program, device: device, seed: 43)
        try runBatches()
        func counts(_ id: Int) throws -> [String: Int] {
            try #require((try user.get("/api/v1/jobs/\(id)/results").json?["result"] as? [String: Any])?["counts"] as? [String: Int])
        }
        #expect(try counts(first) == counts(second))
        #expect(try counts(first) != counts(other))
    }

    @Test func circuitsWiderThanTheSimulatorAreRefused() throws {
        let device = try makeDevice(qubits: 40)
        let user = try Fixtures.user("wide", roles: ["user"])
        let wide = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[30];\ncreg c[30];\nh q;\nmeasure q -> c;\n"
        let id = try submit(user, program: wide, device: device)
        try runBatches()
        let job = try user.get("/api/v1/jobs/\(id)")
        #expect(job.json?["state"] as? String == "failed")
        #expect((job.json?["error"] as? String)?.contains("needs 30 qubits") == true, "\(job.text)")
    }

    /// A circuit that keeps the simulator busy for many seconds: mid-circuit measurement forces shot-by-shot runs.
    static let slow = """
        OPENQASM 2.0;
        include "qelib1.inc";
        qreg q[14];
        creg m[1];
        creg c[14];
        h q;
        measure q[0] -> m[0];
        if (m == 1) x q[1];
        h q;
        cx q[0],q[1];
        measure q -> c;
        """

    @Test func cancellingARunningJobStopsTheSimulation() throws {
        let device = try makeDevice()
        let user = try Fixtures.user("cancel-run", roles: ["user"])
        let id = try submit(user, program: Self.slow.replacingOccurrences(of: "14", with: "16"), device: device, shots: 100_000)
        _ = try Stack.run(bin + "/switchyard-scheduler", ["--seconds", "20", "--until-idle"])
        let simulator = try spawn(simulatorPath, ["--seconds", "60", "--until-idle"])
        #expect(try Stack.eventually(within: 20) { try user.get("/api/v1/jobs/\(id)").json?["state"] as? String == "running" })
        let requested = try user.post("/api/v1/jobs/\(id)/cancel", json: "{}")
        #expect(requested.json?["cancel_requested"] as? Bool == true)
        #expect(try Stack.eventually(within: 10) { try user.get("/api/v1/jobs/\(id)").json?["state"] as? String == "cancelled" })
        #expect(try user.get("/api/v1/jobs/\(id)/results").json?["error"] as? String == "cancelled while running")
        simulator.stop()
    }

    @Test func aKilledRunIsReleasedAndRunAgainAsAnotherAttempt() throws {
        let device = try makeDevice()
        let user = try Fixtures.user("killed-run", roles: ["user"])
        let id = try submit(user, program: Self.slow, device: device, shots: 3000)
        _ = try Stack.run(bin + "/switchyard-scheduler", ["--seconds", "20", "--until-idle"])
        let simulator = try spawn(simulatorPath, ["--seconds", "60", "--until-idle"])
        #expect(try Stack.eventually(within: 20) { try user.get("/api/v1/jobs/\(id)").json?["state"] as? String == "running" })
        simulator.stop(SIGKILL)
        #expect(try user.get("/api/v1/jobs/\(id)").json?["state"] as? String == "running", "the lease still holds it")
        // The lease (3 s in the test stack) lapses; the scheduler puts the job back for another attempt.
        #expect(try Stack.eventually(within: 20) {
            _ = try Stack.run(bin + "/switchyard-scheduler", ["--seconds", "5", "--until-idle"])
            return try user.get("/api/v1/jobs/\(id)").json?["state"] as? String == "scheduled"
        })
        let rerun = try Stack.run(simulatorPath, ["--seconds", "120", "--until-idle"])
        #expect(rerun.status == 0)
        let job = try user.get("/api/v1/jobs/\(id)")
        #expect(job.json?["state"] as? String == "succeeded", "\(job.text)")
        #expect(job.json?["attempt"] as? Int == 2)
    }

    @Test func twoRunsAtOnceNeverTakeTheSameJob() throws {
        let device = try makeDevice(capacity: 100)
        let user = try Fixtures.user("parallel-runs", roles: ["user"])
        let ids = try (0..<30).map { _ in try submit(user, program: Self.bell, device: device, shots: 100) }
        _ = try Stack.run(bin + "/switchyard-scheduler", ["--seconds", "20", "--until-idle"])
        let simulatorPath = self.simulatorPath
        let summaries = Mutex<[String]>([])
        Stack.concurrently(2) { _ in
            let result = try? Stack.run(simulatorPath, ["--seconds", "60", "--until-idle"])
            summaries.withLock { $0.append(result?.output ?? "") }
        }
        let list = ids.map(String.init).joined(separator: ",")
        #expect(try Fixtures.sql("SELECT count(*) FROM job WHERE id IN (\(list)) AND state = 'succeeded' AND attempt = 1") == "30")
        let runs = try Fixtures.sql("SELECT count(*) FROM job_event WHERE job_id IN (\(list)) AND to_state = 'running'")
        #expect(runs == "30", "each job ran once: \(summaries.withLock { $0 })")
    }

    @Test func validateCompileAndOptimize() throws {
        let user = try Fixtures.user("circuits", roles: ["user"])
        let program = JobEndToEndTests.bell.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\"", with: "\\\"")
        let valid = try user.post("/api/v1/circuits/validate", json: #"{"program":"\#(program)"}"#)
        #expect(valid.status == 200)
        let statistics = try #require(valid.json?["statistics"] as? [String: Any])
        #expect(statistics["qubits"] as? Int == 2)
        #expect(statistics["clbits"] as? Int == 2)
        #expect(statistics["depth"] as? Int == 3)
        let invalid = try user.post(
            "/api/v1/circuits/validate", json: #"{"program":"OPENQASM 2.0;\nqreg q[2];\nh q[5];\nfoo q;"}"#)
        #expect(invalid.status == 400)
        let diagnostics = try #require(invalid.json?["diagnostics"] as? [[String: Any]])
        #expect(diagnostics.count >= 2)
        #expect(diagnostics.first?["line"] as? Int == 3)
        #expect(diagnostics.allSatisfy { $0["column"] is Int && $0["message"] is String })

        let device = Fixtures.uniqueName("qpu")
        let created = try Fixtures.admin.post(
            "/api/v1/devices",
            json: #"{"id":"\#(device)","kind":"qpu","properties":{"qubits":3,"basis_gates":["rz","sx","x","cx"],"coupling_map":[[0,1],[1,2]]}}"#)
        #expect(created.status == 201)
        let ghz = "OPENQASM 2.0;\\ninclude \\\"qelib1.inc\\\";\\nqreg q[3];\\ncreg c[3];\\nh q[0];\\ncx q[0],q[2];\\ncx q[0],q[1];\\nmeasure q -> c;\\n"
        let compiled = try user.post("/api/v1/circuits/compile", json: #"{"program":"\#(ghz)","device":"\#(device)"}"#)
        #expect(compiled.status == 200, "\(compiled.text)")
        let gateCounts = ((compiled.json?["after"] as? [String: Any])?["gate_counts"] as? [String: Int]) ?? [:]
        #expect(Set(gateCounts.keys).isSubset(of: ["rz", "sx", "x", "cx", "measure", "barrier"]), "\(gateCounts)")
        #expect((compiled.json?["program"] as? String)?.hasPrefix("OPENQASM 2.0;") == true)
        let recheck = try user.post(
            "/api/v1/circuits/validate",
            json: String(data: try JSONSerialization.data(withJSONObject: ["program": compiled.json?["program"] ?? ""]), encoding: .utf8)!)
        #expect(recheck.status == 200, "the compiled program parses again")
        #expect(try user.post("/api/v1/circuits/compile", json: #"{"program":"\#(ghz)","device":"nope"}"#).status == 404)

        let redundant = "OPENQASM 2.0;\\ninclude \\\"qelib1.inc\\\";\\nqreg q[1];\\nh q[0];\\nh q[0];\\nrz(0.1) q[0];\\nrz(0.2) q[0];\\n"
        let optimized = try user.post("/api/v1/circuits/optimize", json: #"{"program":"\#(redundant)"}"#)
        #expect(optimized.status == 200)
        let before = (optimized.json?["before"] as? [String: Any])?["gates"] as? Int ?? 0
        let after = (optimized.json?["after"] as? [String: Any])?["gates"] as? Int ?? 99
        #expect(before == 4 && after == 1, "\(optimized.text)")
    }

    /// Starts a program in the background and returns its pid.
    /// A batch started in the background, stopped (and reaped) at the latest when the test lets go of it, also when
    /// the test throws, so it never takes jobs from a later test.
    final class Spawned {
        let pid: pid_t
        private var isRunning = true

        init(pid: pid_t) { self.pid = pid }

        func stop(_ signal: Int32 = SIGTERM) {
            guard isRunning else { return }
            isRunning = false
            kill(pid, signal)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }

        deinit { stop() }
    }

    func spawn(_ executable: String, _ arguments: [String]) throws -> Spawned {
        var pid = pid_t()
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let environment = Stack.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        defer { posix_spawn_file_actions_destroy(&actions) }
        guard posix_spawn(&pid, executable, &actions, nil, argv, environment) == 0 else {
            throw FixtureError.unexpected("cannot start \(executable)")
        }
        return Spawned(pid: pid)
    }
}

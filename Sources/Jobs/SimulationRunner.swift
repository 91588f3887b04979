import Circuits
import Domain
import Glibc
import Postgres
import Store
import Synchronization

/// The simulator batch: claims scheduled circuit jobs of simulator devices, runs them and records their results,
/// for up to `runSeconds`, woken by NOTIFY when jobs are scheduled.
///
/// Any number of runs may work at once, on any host: each claim takes one job with SKIP LOCKED under a lease. A
/// heartbeat thread renews the lease and reads cancel requests and the deadline, which the simulation polls between
/// gate passes and shots. A run killed outright stops renewing; once the lease lapses the scheduler puts the job
/// back (the next run is another attempt) or fails it when its attempts are used up.
public final class SimulationRunner {
    private let conninfo: String
    private let settings: Settings
    private let executor: String

    /// What a run may do.
    public struct Settings: Sendable {
        public var runSeconds = 55.0
        public var leaseSeconds = 30
        public var maxQubits = 28
        public var threads = Simulator.availableCores
        /// Exit once nothing is left to claim (tests, benchmarks).
        public var stopWhenIdle = false

        public init() {}
    }

    /// What a run did.
    public struct Summary: Sendable, CustomStringConvertible {
        public var succeeded = 0
        public var failed = 0
        public var cancelled = 0
        public var timedOut = 0
        /// Runs whose lease was lost before they finished (their outcome was discarded).
        public var lost = 0
        public var seconds = 0.0

        public var description: String {
            "succeeded=\(succeeded) failed=\(failed) cancelled=\(cancelled) timed_out=\(timedOut) lost=\(lost) "
                + "elapsed_s=\((seconds * 1000).rounded() / 1000)"
        }
    }

    public init(conninfo: String, settings: Settings) {
        self.conninfo = conninfo
        self.settings = settings
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        executor = "\(hostName):\(getpid()):\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Claims and runs jobs until the time is up (or, with `stopWhenIdle`, until none is left).
    public func run() throws -> Summary {
        let connection = Connection(conninfo: conninfo)
        defer { connection.close() }
        // The session listens only while there is nothing to run: a listener that reads no notifications for the
        // length of a job (up to days) would hold back PostgreSQL's shared notification queue until it fills, and
        // then every notifying commit fails. After LISTEN the queue is looked at once more before waiting, so a job
        // placed in between is not missed.
        var isListening = false
        let started = SystemClock.monotonicNanoseconds()
        let end = started + UInt64(settings.runSeconds * 1e9)
        var summary = Summary()
        let store = ExecutorStore(connection: connection)
        let watch = LeaseWatch(conninfo: conninfo, executor: executor, leaseSeconds: settings.leaseSeconds)
        watch.start()
        defer { watch.stop() }
        while SystemClock.monotonicNanoseconds() < end {
            guard let job = try store.claimSimulatorJob(executor: executor, leaseSeconds: settings.leaseSeconds) else {
                if settings.stopWhenIdle { break }
                if isListening {
                    try waitForWork(connection, until: end)
                } else {
                    try connection.listen("job_changed")
                    isListening = true
                }
                continue
            }
            if isListening {
                try connection.unlisten("job_changed")
                isListening = false
            }
            watch.watch(job)
            let outcome = execute(job, watch: watch)
            watch.unwatch()
            guard let outcome else {
                summary.lost += 1
                continue
            }
            if try store.finish(jobID: job.id, executor: executor, outcome: outcome) {
                switch outcome.state {
                case .succeeded: summary.succeeded += 1
                case .cancelled: summary.cancelled += 1
                case .timedOut: summary.timedOut += 1
                default: summary.failed += 1
                }
            } else {
                summary.lost += 1
            }
        }
        summary.seconds = Double(SystemClock.monotonicNanoseconds() - started) / 1e9
        return summary
    }

    /// Runs one claimed job; nil when its lease was lost (the result would not be ours to record).
    func execute(_ job: ClaimedJob, watch: LeaseWatch) -> RunOutcome? {
        let circuit: Circuit
        do {
            circuit = try OpenQASM.parse(job.program)
        } catch {
            let message = error.diagnostics.map(\.description).joined(separator: "; ")
            return RunOutcome(state: .failed, resultJSON: nil, error: "the program does not parse: \(message)")
        }
        let limit = min(settings.maxQubits, job.deviceQubits ?? settings.maxQubits)
        let statistics = circuit.statistics
        if statistics.qubits > limit {
            return RunOutcome(
                state: .failed, resultJSON: nil,
                error: "the circuit needs \(statistics.qubits) qubits; \(job.deviceID) simulates at most \(limit)")
        }
        let seed = job.seedText.flatMap(UInt64.init) ?? UInt64.random(in: 0...UInt64.max)
        let simulator = Simulator(
            options: SimulationOptions(maxQubits: limit, threads: settings.threads, shouldStop: { watch.shouldStop }))
        do {
            let result = try simulator.run(circuit, shots: job.shots, seed: seed)
            return RunOutcome(
                state: .succeeded, resultJSON: Self.resultJSON(result, statistics: statistics, job: job), error: nil)
        } catch .stopped {
            switch watch.reason {
            case .lost: return nil
            case .cancelled: return RunOutcome(state: .cancelled, resultJSON: nil, error: "cancelled while running")
            case .deadline, .none:
                return RunOutcome(state: .timedOut, resultJSON: nil, error: "ran longer than its max_duration_s")
            }
        } catch {
            return RunOutcome(state: .failed, resultJSON: nil, error: String(describing: error))
        }
    }

    /// The result a circuit job stores: counts and the run's facts.
    static func resultJSON(_ result: SimulationResult, statistics: CircuitStatistics, job: ClaimedJob) -> String {
        let counts = JSON.object(result.counts.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })
        let gates = JSON.object(statistics.operationCounts.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })
        return JSON.object([
            ("counts", counts), ("shots", .int(Int64(result.shots))), ("seed", .string(String(result.seed))),
            ("qubits", .int(Int64(statistics.qubits))), ("clbits", .int(Int64(statistics.clbits))),
            ("depth", .int(Int64(statistics.depth))), ("gate_counts", gates),
            ("simulation_seconds", .double(result.seconds)), ("method", .string(result.method.rawValue)),
            ("device_id", .string(job.deviceID)), ("attempt", .int(Int64(job.attempt))),
        ]).text
    }

    /// Sleeps until another session changes a job, for at most a second.
    private func waitForWork(_ connection: Connection, until end: UInt64) throws {
        let now = SystemClock.monotonicNanoseconds()
        guard now < end else { return }
        _ = try connection.waitForNotifications(timeoutMilliseconds: Int32(min((end - now) / 1_000_000, 1000)))
    }
}

/// Renews the running job's lease on its own connection and thread, and tells the simulation when to stop: the
/// job was cancelled, its deadline passed, or the lease was lost.
///
/// One watch serves a whole run; it renews every third of the lease, so short jobs finish before it needs to, and
/// it listens for `job_changed`, so a cancel request reaches a running simulation within milliseconds.
final class LeaseWatch: @unchecked Sendable {
    enum Reason: Int { case none = 0, cancelled, deadline, lost }

    private struct Watched {
        let jobID: Int64
        let since: UInt64
    }

    private let conninfo: String
    private let executor: String
    private let leaseSeconds: Int
    private let current = Mutex<Watched?>(nil)
    private let stopReason = Atomic<Int>(0)
    private let deadlineMicroseconds = Atomic<Int64>(.max)
    private let finished = Atomic<Bool>(false)
    private var thread = pthread_t()

    init(conninfo: String, executor: String, leaseSeconds: Int) {
        self.conninfo = conninfo
        self.executor = executor
        self.leaseSeconds = leaseSeconds
    }

    /// Polled by the simulation's threads: two atomic loads and a clock read.
    var shouldStop: Bool {
        if stopReason.load(ordering: .relaxed) != 0 { return true }
        if SystemClock.now().microseconds > deadlineMicroseconds.load(ordering: .relaxed) {
            _ = stopReason.compareExchange(expected: 0, desired: Reason.deadline.rawValue, ordering: .relaxed)
            return true
        }
        return false
    }

    var reason: Reason { Reason(rawValue: stopReason.load(ordering: .relaxed)) ?? .none }

    /// Watches `job` from now on.
    func watch(_ job: ClaimedJob) {
        current.withLock {
            stopReason.store(0, ordering: .relaxed)
            deadlineMicroseconds.store(job.deadline.microseconds, ordering: .relaxed)
            $0 = Watched(jobID: job.id, since: SystemClock.monotonicNanoseconds())
        }
    }

    /// Records what a renewal of `jobID` learnt, unless the watch has moved on to another job meanwhile.
    private func record(jobID: Int64, _ update: () -> Void) {
        current.withLock { if $0?.jobID == jobID { update() } }
    }

    /// Stops watching the job (it is finished).
    func unwatch() {
        current.withLock { $0 = nil }
    }

    func start() {
        pthread_create(&thread, nil, leaseWatchThreadEntry, Unmanaged.passRetained(self).toOpaque())
    }

    func stop() {
        finished.store(true, ordering: .relaxed)
        pthread_join(thread, nil)
    }

    fileprivate func run() {
        let connection = Connection(conninfo: conninfo)
        defer { connection.close() }
        let store = ExecutorStore(connection: connection)
        let interval = UInt64(leaseSeconds) * 1_000_000_000 / 3
        var renewed: (jobID: Int64, at: UInt64)?
        var isListening = false
        while !finished.load(ordering: .relaxed) {
            var touched: Set<Int64> = []
            do {
                if !isListening {
                    try connection.listen("job_changed")
                    isListening = true
                }
                for notification in try connection.waitForNotifications(timeoutMilliseconds: 50) {
                    for pair in notification.payload.split(separator: ",") {
                        if let id = pair.split(separator: ":").first.flatMap({ Int64($0) }) { touched.insert(id) }
                    }
                }
            } catch {
                isListening = false
                usleep(50_000)
            }
            guard let watched = current.withLock({ $0 }) else { continue }
            let last = renewed?.jobID == watched.jobID ? renewed!.at : watched.since
            let now = SystemClock.monotonicNanoseconds()
            guard now - last >= interval || touched.contains(watched.jobID) else { continue }
            do {
                renewed = (watched.jobID, now)
                guard let lease = try store.renewLease(jobID: watched.jobID, executor: executor, leaseSeconds: leaseSeconds)
                else {
                    record(jobID: watched.jobID) { stopReason.store(Reason.lost.rawValue, ordering: .relaxed) }
                    continue
                }
                record(jobID: watched.jobID) {
                    deadlineMicroseconds.store(lease.deadline.microseconds, ordering: .relaxed)
                    if lease.cancelRequested {
                        _ = stopReason.compareExchange(expected: 0, desired: Reason.cancelled.rawValue, ordering: .relaxed)
                    }
                }
            } catch {
                // The database is briefly unreachable: keep simulating; the next pass tries again.
            }
        }
    }
}

private func leaseWatchThreadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<LeaseWatch>.fromOpaque(argument!).takeRetainedValue().run()
    return nil
}

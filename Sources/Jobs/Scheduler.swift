import Domain
import Postgres
import Store

/// The scheduler batch: places queued jobs on devices, times out overdue jobs and re-schedules jobs whose executor
/// vanished, for up to `runSeconds`, woken by NOTIFY when jobs change.
///
/// One run at a time on any number of hosts: a session advisory lock; a second run exits at once. Each round is
/// one transaction whose candidates are locked with SKIP LOCKED, so a run killed at any point leaves every job
/// either placed or still queued, never half-placed.
public final class Scheduler {
    private let connection: Connection
    private let settings: Settings
    /// The last owner the previous round considered: each round starts after it and wraps around, so with more
    /// owners than a round takes, every owner gets its turn.
    private var ownerCursor: Int64 = 0

    /// What a run may do.
    public struct Settings: Sendable {
        /// Owners, and jobs among them, considered per round (one transaction).
        public var batchSize = 3000
        /// How long a run works before it exits (cron starts the next one every minute).
        public var runSeconds = 55.0
        /// Exit as soon as a round places nothing (for benchmarks and tests).
        public var stopWhenIdle = false

        public init() {}
    }

    /// What a run did.
    public struct Summary: Sendable, CustomStringConvertible {
        public var scheduled = 0
        public var failed = 0
        public var timedOut = 0
        public var released = 0
        public var rounds = 0
        public var seconds = 0.0

        public var description: String {
            let rate = seconds > 0 ? Int(Double(scheduled) / seconds) : 0
            return "scheduled=\(scheduled) failed=\(failed) timed_out=\(timedOut) released=\(released) rounds=\(rounds) "
                + "jobs_per_s=\(rate)"
        }
    }

    public init(connection: Connection, settings: Settings) {
        self.connection = connection
        self.settings = settings
    }

    /// Runs until `runSeconds` pass (or, with `stopWhenIdle`, until a round finds nothing to do); nil when another
    /// run holds the lock.
    public func run() throws -> Summary? {
        let lock = AdvisoryLock(connection: connection, key: AdvisoryLockKey.scheduler)
        guard try lock.tryAcquire() else { return nil }
        defer { try? lock.release() }
        try connection.listen("job_changed")
        let started = SystemClock.monotonicNanoseconds()
        let end = started + UInt64(settings.runSeconds * 1e9)
        var summary = Summary()
        let store = SchedulerStore(connection: connection)
        while SystemClock.monotonicNanoseconds() < end {
            var progressed = false
            while true {
                let round = try scheduleRound(store)
                summary.rounds += 1
                summary.scheduled += round.scheduled
                summary.failed += round.failed
                progressed = progressed || round.scheduled + round.failed > 0
                // A round that did nothing ends the pass only once every owner had its turn.
                let idle = round.scheduled + round.failed == 0 && round.reachedLastOwner
                if idle || SystemClock.monotonicNanoseconds() >= end { break }
            }
            summary.timedOut += try store.timeOutOverdue(limit: settings.batchSize)
            summary.released += try store.releaseExpiredLeases(limit: settings.batchSize)
            if settings.stopWhenIdle && !progressed { break }
            try waitForChange(until: end)
        }
        summary.seconds = Double(SystemClock.monotonicNanoseconds() - started) / 1e9
        return summary
    }

    /// One round in one transaction: lock candidates, plan, write. Each round takes up to `batchSize` owners after
    /// the previous round's last one, wrapping around; `reachedLastOwner` is true when this round got to the end of
    /// the owner list (so, since the last such round, every owner was considered).
    func scheduleRound(_ store: SchedulerStore) throws -> (scheduled: Int, failed: Int, reachedLastOwner: Bool) {
        try connection.transaction(synchronousCommit: true) {
            let devices = try store.devices()
            let queued = try store.queuedTargets()
            let targets = Placement.queueTargets(devices: devices).considered(among: queued)
            guard !targets.isEmpty else { return (0, 0, true) }
            let scan = QueueScan.forRound(considered: targets, queued: queued)
            let cursor = ownerCursor
            var owners = try store.queuedOwners(limit: settings.batchSize, after: cursor, scan: scan)
            let reachedLastOwner = owners.count < settings.batchSize
            if reachedLastOwner && cursor > 0 {
                let wrapped = try store.queuedOwners(limit: settings.batchSize - owners.count, after: 0, scan: scan)
                owners += wrapped.filter { $0 <= cursor }
            }
            ownerCursor = reachedLastOwner ? 0 : owners.last ?? 0
            guard !owners.isEmpty else { return (0, 0, true) }
            let perOwner = max(1, (settings.batchSize + owners.count - 1) / owners.count)
            let candidates = try store.candidates(owners: owners, perOwner: perOwner, scan: scan)
            let plan = Placement.plan(candidates: candidates, devices: devices)
            return (try store.assign(plan.assignments), try store.failUnplaceable(plan.failures), reachedLastOwner)
        }
    }

    /// Sleeps until another session changes a job, for at most a second (devices can change without a notice).
    private func waitForChange(until end: UInt64) throws {
        let now = SystemClock.monotonicNanoseconds()
        guard now < end else { return }
        let timeout = Int32(min((end - now) / 1_000_000, 1000))
        let ownSession = connection.backendPID
        let deadline = now + UInt64(timeout) * 1_000_000
        while SystemClock.monotonicNanoseconds() < deadline {
            let remaining = Int32((deadline - SystemClock.monotonicNanoseconds()) / 1_000_000)
            let notifications = try connection.waitForNotifications(timeoutMilliseconds: max(1, remaining))
            if notifications.contains(where: { $0.senderPID != ownSession }) { return }
        }
    }
}

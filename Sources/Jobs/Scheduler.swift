import Domain
import Postgres
import Store

/// The scheduler batch: places queued jobs on devices, times out overdue jobs and re-schedules jobs whose executor
/// vanished, for up to `runSeconds`, woken by NOTIFY when jobs change.
///
/// One run at a time on any number of hosts: a session advisory lock; a second run exits at once. A run keeps two
/// sessions: each round splits its owners between them, each locks its half's candidates with SKIP LOCKED and
/// writes its half's placements in a transaction of its own, after one plan for the whole round (`RoundPartner`).
/// A run killed at any point leaves every job either placed or still queued, never half-placed.
public final class Scheduler {
    private let connection: Connection
    private let settings: Settings
    /// The last owner the previous round considered: each round starts after it and wraps around, so with more
    /// owners than a round takes, every owner gets its turn.
    private var ownerCursor: Int64 = 0
    /// The second session, which takes half of each round's owners (while a run lasts).
    private var partner: RoundPartner?
    /// True while the partner works on a half whose outcome the round has not collected.
    private var awaitingPartner = false
    /// What the partner placed and failed in the current round.
    private var partnerDone = (scheduled: 0, failed: 0)
    /// The session (by `Connection.sessionsOpened`) that holds the run's advisory lock.
    private var lockedSession = 0

    /// A round found its session replaced since the lock was taken: it placed nothing, and the run takes the lock
    /// again (or stops) before the next.
    private struct LockLost: Error {}

    /// What a run may do.
    public struct Settings: Sendable {
        /// Owners, and jobs among them, considered per round.
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

        /// This summary with the run's duration set.
        func ended(since started: UInt64) -> Summary {
            var ended = self
            ended.seconds = Double(SystemClock.monotonicNanoseconds() - started) / 1e9
            return ended
        }

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

    /// How often a busy run stops placing to time out overdue jobs and release expired leases.
    static let upkeepIntervalNanoseconds: UInt64 = 1_000_000_000

    /// Runs until `runSeconds` pass (or, with `stopWhenIdle`, until a round finds nothing to do); nil when another
    /// run holds the lock.
    public func run() throws -> Summary? {
        let lock = AdvisoryLock(connection: connection, key: AdvisoryLockKey.scheduler)
        guard try lock.tryAcquire() else { return nil }
        defer { try? lock.release() }
        lockedSession = connection.sessionsOpened
        try connection.listen("job_changed")
        let partner = RoundPartner(conninfo: connection.conninfo)
        partner.start()
        self.partner = partner
        defer {
            self.partner = nil
            partner.stop()
        }
        let started = SystemClock.monotonicNanoseconds()
        let end = started + UInt64(settings.runSeconds * 1e9)
        var summary = Summary()
        let store = SchedulerStore(connection: connection)
        while SystemClock.monotonicNanoseconds() < end {
            var progressed = false
            var idle = false
            // Timeouts and expired leases are handled at least this often, also while a backlog keeps every round
            // busy.
            let upkeepDue = SystemClock.monotonicNanoseconds() + Self.upkeepIntervalNanoseconds
            while true {
                // A statement that reconnected (the server restarted) lost the lock with the old session: take it
                // again, or stop if another run has it now.
                if connection.sessionsOpened != lockedSession {
                    guard try lock.tryAcquire() else { return summary.ended(since: started) }
                    lockedSession = connection.sessionsOpened
                }
                let round: (scheduled: Int, failed: Int, reachedLastOwner: Bool)
                do {
                    round = try scheduleRound(store)
                } catch is LockLost {
                    continue
                }
                summary.rounds += 1
                summary.scheduled += round.scheduled
                summary.failed += round.failed
                progressed = progressed || round.scheduled + round.failed > 0
                // A round that did nothing ends the pass only once every owner had its turn.
                idle = round.scheduled + round.failed == 0 && round.reachedLastOwner
                let now = SystemClock.monotonicNanoseconds()
                if idle || now >= end || now >= upkeepDue { break }
            }
            summary.timedOut += try store.timeOutOverdue(limit: settings.batchSize)
            summary.released += try store.releaseExpiredLeases(limit: settings.batchSize)
            if idle {
                if settings.stopWhenIdle && !progressed { break }
                try waitForChange(until: end)
            }
        }
        return summary.ended(since: started)
    }

    /// One round: lock candidates, plan, write. Each round takes up to `batchSize` owners after the previous
    /// round's last one, wrapping around; `reachedLastOwner` is true when this round got to the end of the owner
    /// list (so, since the last such round, every owner was considered). The partner session locks and writes the
    /// jobs of the second half of the owners in a transaction of its own, at the same time; one plan covers both.
    func scheduleRound(_ store: SchedulerStore) throws -> (scheduled: Int, failed: Int, reachedLastOwner: Bool) {
        partnerDone = (0, 0)
        do {
            let own = try ownRound(store)
            try settlePartner()
            return (own.scheduled + partnerDone.scheduled, own.failed + partnerDone.failed, own.reachedLastOwner)
        } catch {
            try? settlePartner()
            throw error
        }
    }

    /// Waits for the partner's half, if it has one. A half that lost a deadlock or serialization conflict stays
    /// queued for the next round; an abandoned half was rolled back on purpose.
    private func settlePartner() throws {
        guard awaitingPartner, let partner else { return }
        awaitingPartner = false
        do {
            let done = try partner.outcome()
            partnerDone.scheduled += done.scheduled
            partnerDone.failed += done.failed
        } catch let failure as RoundPartner.Failure {
            if failure.underlying is RoundPartner.Abandoned { return }
            if let error = failure.underlying as? DatabaseError,
                error.sqlState ~= .deadlockDetected || error.sqlState ~= .serializationFailure
            {
                return
            }
            throw failure.underlying
        }
    }

    /// The round's own transaction; hands the second half of its owners to the partner when there is more than one.
    private func ownRound(_ store: SchedulerStore) throws -> (scheduled: Int, failed: Int, reachedLastOwner: Bool) {
        try connection.transaction(synchronousCommit: true) {
            // A body run again (serialization failure) first settles the partner's half of the earlier attempt.
            try settlePartner()
            let devices = try store.devices()
            // The transaction's first statement is the one that may have reconnected silently (see `run`); a
            // later one cannot without failing the transaction. So from here on the lock is known to be held.
            guard connection.sessionsOpened == lockedSession else { throw LockLost() }
            let queued = try store.queuedTargets()
            let queueTargets = Placement.queueTargets(devices: devices)
            let targets = queueTargets.considered(among: queued)
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
            let half = (owners.count + 1) / 2
            let partnerOwners = Array(owners[half...])
            guard let partner, !partnerOwners.isEmpty else {
                let candidates = try store.candidates(
                    owners: owners, perOwner: perOwner, scan: scan, heldBy: queueTargets.heldBy)
                let plan = Placement.plan(candidates: candidates, devices: devices)
                return (try store.assign(plan.assignments), try store.failUnplaceable(plan.failures), reachedLastOwner)
            }
            partner.begin(
                RoundPartner.Share(owners: partnerOwners, perOwner: perOwner, scan: scan, heldBy: queueTargets.heldBy))
            awaitingPartner = true
            let ownCandidates: [SchedulingCandidate]
            let partnerCandidates: [SchedulingCandidate]
            do {
                ownCandidates = try store.candidates(
                    owners: Array(owners[..<half]), perOwner: perOwner, scan: scan, heldBy: queueTargets.heldBy)
            } catch {
                _ = try? partner.candidates()
                partner.place(nil)
                throw error
            }
            do {
                partnerCandidates = try partner.candidates()
            } catch {
                partner.place(nil)
                throw (error as? RoundPartner.Failure)?.underlying ?? error
            }
            let plan = Placement.plan(candidates: ownCandidates + partnerCandidates, devices: devices)
            let partnerJobs = Set(partnerCandidates.map(\.id))
            partner.place(RoundPartner.Placements(
                assignments: plan.assignments.filter { partnerJobs.contains($0.jobID) },
                failures: plan.failures.filter { partnerJobs.contains($0.jobID) }))
            return (
                try store.assign(plan.assignments.filter { !partnerJobs.contains($0.jobID) }),
                try store.failUnplaceable(plan.failures.filter { !partnerJobs.contains($0.jobID) }), reachedLastOwner
            )
        }
    }

    /// Sleeps until another session changes a job, for at most a second (devices can change without a notice).
    private func waitForChange(until end: UInt64) throws {
        let now = SystemClock.monotonicNanoseconds()
        guard now < end else { return }
        let timeout = Int32(min((end - now) / 1_000_000, 1000))
        let ownSession = connection.backendPID
        let deadline = now + UInt64(timeout) * 1_000_000
        while let remaining = Self.millisecondsLeft(from: SystemClock.monotonicNanoseconds(), until: deadline) {
            let notifications = try connection.waitForNotifications(timeoutMilliseconds: max(1, remaining))
            if notifications.contains(where: { $0.senderPID != ownSession }) { return }
        }
    }

    /// Whole milliseconds from `now` to `deadline`, or nil once it has passed. Computed from one reading of the
    /// clock: a loop that tested one reading and subtracted a later one trapped when the deadline fell in between.
    static func millisecondsLeft(from now: UInt64, until deadline: UInt64) -> Int32? {
        guard now < deadline else { return nil }
        return Int32(min((deadline - now) / 1_000_000, UInt64(Int32.max)))
    }
}

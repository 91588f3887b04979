import Domain
import Postgres
import Store

/// The housekeeping batch that cron runs every minute: seals the audit trail, numbers job events nobody has read
/// yet, forgets stale rate-limit state and expired idempotency keys.
///
/// Safe to run twice at once or on two hosts: a session advisory lock lets one run work and the other exit; each
/// step works in bounded transactions, so a run killed at any point leaves consistent state for the next one, and
/// a backlog (after the sweeper did not run for a while) is worked off over several runs within `budget`. A step
/// that fails does not keep the later ones from running.
public struct Sweeper {
    private let connection: Connection
    private let budgetNanoseconds: UInt64
    /// Rows one pruning statement deletes at most.
    public static let pruneBatch = 10_000

    /// - Parameter budgetSeconds: how long a run works at most, well inside cron's minute.
    public init(connection: Connection, budgetSeconds: Int = 45) {
        self.connection = connection
        self.budgetNanoseconds = UInt64(budgetSeconds) * 1_000_000_000
    }

    /// What a run did.
    public struct Summary: Sendable, CustomStringConvertible {
        public var auditSealed = 0
        public var rateLimitRowsPruned = 0
        public var idempotencyKeysPruned = 0
        public var eventHead: Int64 = 0
        /// Steps that failed, with their errors; the others ran.
        public var failures: [(step: String, error: DatabaseError)] = []

        public var description: String {
            "audit_sealed=\(auditSealed) rate_limit_pruned=\(rateLimitRowsPruned) "
                + "idempotency_keys_pruned=\(idempotencyKeysPruned) event_head=\(eventHead)"
                + (failures.isEmpty ? "" : " failed=" + failures.map(\.step).joined(separator: ","))
        }
    }

    /// Runs every sweep once; nil when another run holds the lock. Throws only when the database cannot be
    /// reached; a step's other failures are in the summary.
    public func run() throws -> Summary? {
        let lock = AdvisoryLock(connection: connection, key: AdvisoryLockKey.sweeper)
        guard try lock.tryAcquire() else { return nil }
        defer { try? lock.release() }
        let deadline = SystemClock.monotonicNanoseconds() + budgetNanoseconds
        var summary = Summary()
        func step(_ name: String, _ body: () throws -> Void) throws {
            do {
                try body()
            } catch let error as DatabaseError where !error.isConnectionFailure {
                summary.failures.append((name, error))
            }
        }
        try step("audit_seal") {
            summary.auditSealed = try AuditChain(connection: connection).sealAll(until: deadline)
        }
        try step("rate_limit_prune") {
            let auth = AuthStore(connection: connection)
            summary.rateLimitRowsPruned = try pruneInBatches(until: deadline) { try auth.pruneRateLimitState(limit: $0) }
        }
        let jobs = JobStore(connection: connection)
        try step("idempotency_key_prune") {
            summary.idempotencyKeysPruned = try pruneInBatches(until: deadline) { try jobs.pruneIdempotencyKeys(limit: $0) }
        }
        try step("event_sequence") {
            summary.eventHead = try jobs.sequenceEvents()
        }
        return summary
    }

    /// Calls `prune` with `pruneBatch` until it deletes fewer (nothing more to do) or the deadline passes.
    private func pruneInBatches(until deadline: UInt64, _ prune: (Int) throws -> Int) throws -> Int {
        var total = 0
        while true {
            let pruned = try prune(Self.pruneBatch)
            total += pruned
            if pruned < Self.pruneBatch || SystemClock.monotonicNanoseconds() >= deadline { return total }
        }
    }
}

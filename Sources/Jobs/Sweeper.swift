import Domain
import Postgres
import Store

/// The housekeeping batch that cron runs every minute: seals the audit trail, numbers job events nobody has read
/// yet, forgets stale rate-limit state and expired idempotency keys.
///
/// Safe to run twice at once or on two hosts: a session advisory lock lets one run work and the other exit; each
/// step is its own transaction, so a run killed at any point leaves consistent state for the next one.
public struct Sweeper {
    private let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// What a run did.
    public struct Summary: Sendable, CustomStringConvertible {
        public var auditSealed = 0
        public var rateLimitRowsPruned = 0
        public var idempotencyKeysPruned = 0
        public var eventHead: Int64 = 0

        public var description: String {
            "audit_sealed=\(auditSealed) rate_limit_pruned=\(rateLimitRowsPruned) "
                + "idempotency_keys_pruned=\(idempotencyKeysPruned) event_head=\(eventHead)"
        }
    }

    /// Runs every sweep once; nil when another run holds the lock.
    public func run() throws -> Summary? {
        let lock = AdvisoryLock(connection: connection, key: AdvisoryLockKey.sweeper)
        guard try lock.tryAcquire() else { return nil }
        defer { try? lock.release() }
        var summary = Summary()
        summary.auditSealed = try AuditChain(connection: connection).sealAll()
        summary.rateLimitRowsPruned = try AuthStore(connection: connection).pruneRateLimitState()
        let jobs = JobStore(connection: connection)
        summary.idempotencyKeysPruned = try jobs.pruneIdempotencyKeys()
        summary.eventHead = try jobs.sequenceEvents()
        return summary
    }
}

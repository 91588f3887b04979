import Postgres
import Store
import Testing

private struct ShortLockTimeout: Statement {
    static let sql = "SELECT set_config('lock_timeout', '1000', false)"
    var binds: [PostgresValue] { [] }
}

private struct SequenceEvents: Statement {
    static let sql = "SELECT job_event_sequence()"
    typealias Row = Int64
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

private struct SealNothing: Statement {
    static let sql = "SELECT audit_seal(0)"
    typealias Row = Int64
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

/// The batch runs' session locks and the locks inside SQL functions are separate keys: a running scheduler or
/// sweeper never makes a job list, an event read or audit sealing wait.
@Suite(.enabled(if: TestDatabase.isAvailable), .serialized) struct AdvisoryLockTests {
    @Test func functionsDoNotWaitForTheBatchRunsLocks() throws {
        let batchRun = TestDatabase.superuser()
        let keys = [AdvisoryLockKey.migrations, AdvisoryLockKey.sweeper, AdvisoryLockKey.scheduler]
        let locks = keys.map { AdvisoryLock(connection: batchRun, key: $0) }
        for lock in locks { try #require(try lock.tryAcquire()) }
        defer { batchRun.close() }

        let reader = TestDatabase.superuser()
        try reader.execute(ShortLockTimeout())
        #expect(try reader.first(SequenceEvents()) != nil, "job_event_sequence() while the batch locks are held")
        #expect(try reader.first(SealNothing()) == 0, "audit_seal() while the batch locks are held")
    }
}

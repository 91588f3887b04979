import Jobs
import Postgres
import Store
import Testing

private struct CountRows: Statement {
    static let sql = """
        SELECT (SELECT count(*) FROM rate_limit_state WHERE subject LIKE $1::text || '%'),
               (SELECT count(*) FROM idempotency_key WHERE key LIKE $1::text || '%'),
               (SELECT count(*) FROM idempotency_key WHERE key = $1::text || 'fresh')
        """
    typealias Row = (staleLimits: Int64, keys: Int64, freshKeys: Int64)
    let prefix: String
    var binds: [PostgresValue] { [.text(prefix)] }
    static func decode(_ row: ResultRow) throws -> Row { (try row.int(0), try row.int(1), try row.int(2)) }
}

/// The housekeeping batch (Sources/Jobs/Sweeper.swift) against the test database: stale state pruned in bounded
/// statements (more rows than one statement deletes), fresh state kept, and one run at a time.
@Suite(.enabled(if: TestDatabase.isAvailable), .serialized) struct SweeperTests {
    func database(keysWithPrefix prefix: String) throws -> Int64 {
        try TestDatabase.superuser().first(CountRows(prefix: prefix))?.keys ?? -1
    }

    /// As the responders' role, whose privileges (0019) must cover every step.
    func applicationSession() -> Connection { Connection(conninfo: TestDatabase.appURL ?? TestDatabase.url!) }

    @Test func prunesStaleStateInBatchesAndKeepsTheFresh() throws {
        let database = TestDatabase.superuser()
        let prefix = "sweeper-test-\(UInt32.random(in: 0...UInt32.max))-"
        let staleLimits = Sweeper.pruneBatch * 2 + 500
        try database.executeScript(unsafeSQL: """
            INSERT INTO rate_limit_state (subject, tat, hour_start, hour_count, last_granted)
            SELECT '\(prefix)' || g, now() - interval '2 hours', date_trunc('hour', now()) - interval '2 hours', 1, 1
            FROM generate_series(1, \(staleLimits)) g;
            INSERT INTO idempotency_key (owner_id, key, request_hash, job_id, created_at)
            SELECT (SELECT min(id) FROM principal), '\(prefix)' || g, '\\x00', g, now() - interval '25 hours'
            FROM generate_series(1, 3) g;
            INSERT INTO idempotency_key (owner_id, key, request_hash, job_id)
            SELECT min(id), '\(prefix)fresh', '\\x00', 0 FROM principal;
            """)
        // With no time to spend, a run still does one bounded statement of each step, and no more.
        let hurried = try #require(try Sweeper(connection: applicationSession(), budgetSeconds: 0).run())
        #expect(hurried.failures.isEmpty)
        #expect(hurried.rateLimitRowsPruned == Sweeper.pruneBatch)
        let summary = try #require(try Sweeper(connection: applicationSession()).run())
        #expect(summary.failures.isEmpty, "\(summary.failures.map(\.error))")
        #expect(hurried.rateLimitRowsPruned + summary.rateLimitRowsPruned >= staleLimits)
        #expect(hurried.idempotencyKeysPruned + summary.idempotencyKeysPruned >= 3)
        let left = try #require(try database.first(CountRows(prefix: prefix)))
        #expect(left.staleLimits == 0)
        #expect(left.keys == 1 && left.freshKeys == 1, "a key younger than a day is kept")
    }

    /// A step that fails (here: rate-limit state locked by another session past the sweeper's lock timeout) is
    /// reported, and the steps after it still run.
    @Test func aFailingStepDoesNotStopTheOthers() throws {
        let prefix = "sweeper-step-\(UInt32.random(in: 0...UInt32.max))-"
        try TestDatabase.superuser().executeScript(unsafeSQL: """
            INSERT INTO idempotency_key (owner_id, key, request_hash, job_id, created_at)
            SELECT min(id), '\(prefix)stale', '\\x00', 0, now() - interval '25 hours' FROM principal
            """)
        let holder = TestDatabase.superuser()
        try holder.executeScript(unsafeSQL: "BEGIN; LOCK TABLE rate_limit_state IN ACCESS EXCLUSIVE MODE")
        let impatient = Connection(
            conninfo: (TestDatabase.appURL ?? TestDatabase.url!) + "&options=-c%20lock_timeout%3D200")
        let run = try Sweeper(connection: impatient).run()
        holder.close()
        let summary = try #require(run)
        #expect(summary.failures.map(\.step) == ["rate_limit_prune"])
        #expect(summary.failures.first?.error.sqlState == .lockNotAvailable)
        #expect(summary.idempotencyKeysPruned >= 1, "the step after the failed one ran")
        #expect(try database(keysWithPrefix: prefix) == 0)
        #expect(summary.description.hasSuffix("failed=rate_limit_prune"))
    }

    @Test func aSecondRunAtTheSameTimeDoesNothing() throws {
        let first = TestDatabase.superuser()
        let lock = AdvisoryLock(connection: first, key: AdvisoryLockKey.sweeper)
        try #require(try lock.tryAcquire())
        defer { try? lock.release() }
        #expect(try Sweeper(connection: TestDatabase.superuser()).run() == nil)
    }
}

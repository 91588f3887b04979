import Domain
import Postgres
import Testing

/// `job_counts_by_state()` beside a full count of the job table, in one snapshot.
private struct CountsByState: Statement {
    static let sql = """
        SELECT (SELECT string_agg(state || '=' || jobs, ',' ORDER BY state) FROM job_counts_by_state()),
               (SELECT string_agg(s.state || '=' || coalesce(c.n, 0), ',' ORDER BY s.state)
                FROM unnest(enum_range(NULL::job_state)) AS s (state)
                LEFT JOIN (SELECT state, count(*) AS n FROM job GROUP BY state) c ON c.state = s.state)
        """
    typealias Row = (tallied: String, counted: String)
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Row { (try row.string(0), try row.string(1)) }
}

private struct InsertJobs: Statement {
    static let sql = """
        INSERT INTO job (owner_id, name, kind, target, program, state, finished_at)
        SELECT (SELECT id FROM principal ORDER BY id LIMIT 1), 'tally-' || g, 'command', 'sim-statevector', '{}',
               $2::job_state, CASE WHEN job_state_is_final($2::job_state) THEN now() END
        FROM generate_series(1, $1::integer) g
        RETURNING id
        """
    typealias Row = Int64
    let count: Int
    var state = JobState.queued
    var binds: [PostgresValue] { [.int(Int64(count)), .text(state.rawValue)] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

/// Moves jobs to a state in one statement; the state trigger checks the step and stamps the rows.
private struct MoveJobs: Statement {
    static let sql = """
        UPDATE job SET state = $2::job_state,
                       device_id = CASE WHEN $2::job_state IN ('scheduled', 'running') THEN 'sim-statevector'
                                        ELSE device_id END
        WHERE id = ANY ($1::bigint[])
        """
    let ids: [Int64]
    let state: JobState
    var binds: [PostgresValue] { [.intArray(ids), .text(state.rawValue)] }
}

private struct DeleteJobs: Statement {
    static let sql = "DELETE FROM job WHERE id = ANY ($1::bigint[])"
    let ids: [Int64]
    var binds: [PostgresValue] { [.intArray(ids)] }
}

private struct RolledBack: Error {}

/// Queue and cluster status count finished jobs from a tally the job triggers keep (sql/migrations/0012); it must
/// agree with a count of the table after every kind of change.
@Suite(.enabled(if: TestDatabase.isAvailable)) struct JobTallyTests {
    func expectAgreement(_ connection: Connection, _ step: String) throws {
        let counts = try #require(try connection.first(CountsByState()))
        #expect(counts.tallied == counts.counted, "after \(step)")
    }

    @Test func theTallyFollowsEveryFinishRetryAndDelete() throws {
        let connection = TestDatabase.superuser()
        #expect(throws: RolledBack.self) {
            try connection.transaction {
                try expectAgreement(connection, "nothing")
                let ids = try connection.rows(InsertJobs(count: 6))
                try connection.execute(MoveJobs(ids: ids, state: .scheduled))
                try connection.execute(MoveJobs(ids: Array(ids.prefix(4)), state: .running))
                try connection.execute(MoveJobs(ids: Array(ids.prefix(2)), state: .succeeded))
                try expectAgreement(connection, "two succeeded")
                try connection.execute(MoveJobs(ids: [ids[2]], state: .failed))
                try connection.execute(MoveJobs(ids: [ids[3]], state: .timedOut))
                try connection.execute(MoveJobs(ids: Array(ids.suffix(2)), state: .cancelled))
                try expectAgreement(connection, "one of each finish")
                try connection.execute(MoveJobs(ids: [ids[2], ids[3], ids[4]], state: .queued))
                try expectAgreement(connection, "three retries")
                try connection.execute(DeleteJobs(ids: [ids[0], ids[5], ids[2]]))
                try expectAgreement(connection, "deleting finished and queued jobs")
                _ = try connection.rows(InsertJobs(count: 3, state: .succeeded))
                try expectAgreement(connection, "inserting finished jobs")
                throw RolledBack()
            }
        }
        try expectAgreement(connection, "the rollback")
    }

    /// Each backend adds to its own shard; a job finished by one session and deleted by another leaves one shard
    /// above and one below zero, and their sum exact.
    @Test func finishingInOneSessionAndDeletingInAnotherStaysExact() throws {
        let finisher = TestDatabase.superuser()
        let cleaner = TestDatabase.superuser()
        let ids = try finisher.rows(InsertJobs(count: 4))
        try finisher.execute(MoveJobs(ids: ids, state: .scheduled))
        try finisher.execute(MoveJobs(ids: ids, state: .cancelled))
        try expectAgreement(cleaner, "cancelling in one session")
        try cleaner.execute(DeleteJobs(ids: ids))
        try expectAgreement(finisher, "deleting in another")
    }
}

import Domain
import Postgres
import Testing

private struct EnumValues: Statement {
    static let sql = "SELECT enum_range(NULL::job_state)::text[]"
    typealias Row = [String]
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> [String] { try row.stringArray(0) }
}

private struct TransitionAllowed: Statement {
    static let sql = "SELECT job_transition_allowed($1::job_state, $2::job_state)"
    typealias Row = Bool
    let from: JobState
    let to: JobState
    var binds: [PostgresValue] { [.text(from.rawValue), .text(to.rawValue)] }
    static func decode(_ row: ResultRow) throws -> Bool { try row.bool(0) }
}

/// The Swift mirror of the job state machine agrees with the database's, state by state and step by step.
@Suite(.enabled(if: TestDatabase.isAvailable)) struct JobStateMachineTests {
    @Test func swiftStatesAreTheDatabaseEnum() throws {
        let values = try TestDatabase.superuser().first(EnumValues())
        #expect(values == JobState.allCases.map(\.rawValue))
    }

    @Test func everyTransitionAgreesWithTheDatabase() throws {
        let connection = TestDatabase.superuser()
        for from in JobState.allCases {
            for to in JobState.allCases where from != to {
                let allowed = try connection.first(TransitionAllowed(from: from, to: to))
                #expect(allowed == from.canMove(to: to), "\(from) → \(to)")
            }
        }
    }
}

private struct InsertQueuedJob: Statement {
    static let sql = """
        INSERT INTO job (owner_id, name, kind, target, program)
        SELECT id, $1::text, 'command', 'sim-statevector', '{}' FROM principal ORDER BY id LIMIT 1
        RETURNING id
        """
    typealias Row = Int64
    let name: String
    var binds: [PostgresValue] { [.text(name)] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

/// Schedules a job the way the scheduler does: the row stamped as the trigger would stamp it.
private struct ScheduleStamped: Statement {
    static let sql = """
        UPDATE job SET state = 'scheduled', device_id = 'sim-statevector', scheduled_at = now(), updated_at = now(),
                       version = version + 1, lease_owner = NULL, lease_expires_at = NULL
        WHERE id = $1::bigint
        """
    let id: Int64
    var binds: [PostgresValue] { [.int(id)] }
}

/// Schedules a job with the row stamped wrongly (an old scheduled_at, the version unchanged): the trigger must fix it.
private struct ScheduleUnstamped: Statement {
    static let sql = """
        UPDATE job SET state = 'scheduled', device_id = 'sim-statevector', scheduled_at = now() - interval '1 day'
        WHERE id = $1::bigint
        """
    let id: Int64
    var binds: [PostgresValue] { [.int(id)] }
}

/// Moves a job straight from queued to running, with the version bumped as the fast path would: not allowed.
private struct StartQueued: Statement {
    static let sql = """
        UPDATE job SET state = 'running', device_id = 'sim-statevector', updated_at = now(), version = version + 1
        WHERE id = $1::bigint
        """
    let id: Int64
    var binds: [PostgresValue] { [.int(id)] }
}

/// What the trigger stamps and records for a scheduled job: version, whether scheduled_at and updated_at are the
/// transaction's time, and its events.
private struct ScheduledFacts: Statement {
    static let sql = """
        SELECT j.version, j.scheduled_at = now() AND j.updated_at = now(),
               (SELECT string_agg(e.kind || ':' || coalesce(e.from_state::text, '-') || '>' || e.to_state || '@'
                                  || e.version, ',' ORDER BY e.id)
                FROM job_event e WHERE e.job_id = j.id)
        FROM job j WHERE j.id = $1::bigint
        """
    typealias Row = ScheduledJobFacts
    let id: Int64
    var binds: [PostgresValue] { [.int(id)] }
    static func decode(_ row: ResultRow) throws -> ScheduledJobFacts {
        ScheduledJobFacts(version: try row.int(0), stampedNow: try row.bool(1), events: try row.string(2))
    }
}

private struct ScheduledJobFacts: Equatable {
    let version: Int64
    let stampedNow: Bool
    let events: String
}

private struct RollbackTest: Error {}

/// The scheduler's UPDATE skips the row trigger's function only when the row is already what it would make of it
/// (sql/migrations/0009); every other write still goes through its checks and stamps.
@Suite(.enabled(if: TestDatabase.isAvailable)) struct JobRowTriggerTests {
    /// Runs `body` in a transaction that is rolled back, so the test leaves no jobs behind.
    func inRolledBackTransaction(_ body: (Connection) throws -> Void) throws {
        let connection = TestDatabase.superuser()
        #expect(throws: RollbackTest.self) {
            try connection.transaction {
                try body(connection)
                throw RollbackTest()
            }
        }
    }

    @Test func stampedAndUnstampedSchedulingEndTheSame() throws {
        try inRolledBackTransaction { connection in
            let stamped = try #require(try connection.first(InsertQueuedJob(name: "row-trigger-stamped")))
            let unstamped = try #require(try connection.first(InsertQueuedJob(name: "row-trigger-unstamped")))
            try connection.execute(ScheduleStamped(id: stamped))
            try connection.execute(ScheduleUnstamped(id: unstamped))
            let expected = ScheduledJobFacts(version: 2, stampedNow: true, events: "created:->queued@1,state:queued>scheduled@2")
            #expect(try connection.first(ScheduledFacts(id: stamped)) == expected)
            #expect(try connection.first(ScheduledFacts(id: unstamped)) == expected)
        }
    }

    @Test func aStampedWriteOfAForbiddenTransitionIsStillRefused() throws {
        try inRolledBackTransaction { connection in
            let id = try #require(try connection.first(InsertQueuedJob(name: "row-trigger-forbidden")))
            let error = try #require(throws: DatabaseError.self) { try connection.execute(StartQueued(id: id)) }
            #expect(error.sqlState == SQLState("PT409"))
        }
    }
}

private struct TriggerFunctionSettings: Statement {
    static let sql = "SELECT coalesce(proconfig, '{}') FROM pg_proc WHERE proname = 'job_after_update'"
    typealias Row = [String]
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> [String] { try row.stringArray(0) }
}

private struct InsertQueuedJobs: Statement {
    static let sql = """
        INSERT INTO job (owner_id, name, kind, target, program)
        SELECT (SELECT id FROM principal ORDER BY id LIMIT 1), 'statement-trigger-' || g, 'command', 'sim-statevector', '{}'
        FROM generate_series(1, $1::integer) g
        RETURNING id
        """
    typealias Row = Int64
    let count: Int
    var binds: [PostgresValue] { [.int(Int64(count))] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

private struct ScheduleMany: Statement {
    static let sql = """
        UPDATE job SET state = 'scheduled', device_id = 'sim-statevector', scheduled_at = now(), updated_at = now(),
                       version = version + 1
        WHERE id = ANY ($1::bigint[])
        """
    let ids: [Int64]
    var binds: [PostgresValue] { [.intArray(ids)] }
}

private struct SchedulingFacts: Statement {
    static let sql = """
        SELECT (SELECT count(*) FROM job_event WHERE job_id = ANY ($1::bigint[]) AND to_state = 'scheduled'),
               (SELECT active_jobs FROM device WHERE id = 'sim-statevector')
        """
    typealias Row = (events: Int64, active: Int64)
    let ids: [Int64]
    var binds: [PostgresValue] { [.intArray(ids)] }
    static func decode(_ row: ResultRow) throws -> Row { (try row.int(0), try row.int(1)) }
}

/// The statement trigger of job UPDATEs (events, device and owner counters) after a session's plans were made
/// for small statements (sql/migrations/0011).
@Suite(.enabled(if: TestDatabase.isAvailable)) struct JobStatementTriggerTests {
    /// Its cost is what 0011 fixed, and tests assert no timings: this pins the setting that keeps its joins of the
    /// transition tables linear (hash joins) whatever size the cached plans were made for.
    @Test func theTriggerNeverJoinsItsTransitionTablesByNestedLoop() throws {
        #expect(try TestDatabase.superuser().first(TriggerFunctionSettings())?.contains("enable_nestloop=off") == true)
    }

    @Test func aLargeUpdateAfterSmallOnesKeepsEventsAndCountersExact() throws {
        let connection = TestDatabase.superuser()
        #expect(throws: RollbackTest.self) {
            try connection.transaction {
                let before = try #require(try connection.first(SchedulingFacts(ids: [])))
                let ids = try connection.rows(InsertQueuedJobs(count: 307))
                for id in ids.prefix(7) { try connection.execute(ScheduleMany(ids: [id])) }
                try connection.execute(ScheduleMany(ids: Array(ids.dropFirst(7))))
                let after = try #require(try connection.first(SchedulingFacts(ids: ids)))
                #expect(after.events == 307)
                #expect(after.active - before.active == 307)
                throw RollbackTest()
            }
        }
    }
}

import Domain
import Postgres

/// Takes the best scheduled circuit job of a simulator device and marks it running under a lease; jobs another
/// executor is claiming are skipped, so two executors never take the same job. The state trigger counts the attempt
/// and sets the deadline.
///
/// A job starts only on an online device that no one else has reserved now: one placed before a reservation began
/// (or before its device went offline or into maintenance) waits in `scheduled` until it may run.
struct JobClaimForSimulator: Statement {
    static let sql = """
        WITH next AS (
            SELECT j.id FROM job j JOIN device d ON d.id = j.device_id
            WHERE j.state = 'scheduled' AND j.kind = 'circuit' AND d.kind = 'simulator' AND d.status = 'online'
              AND NOT EXISTS (
                  SELECT 1 FROM reservation r
                  WHERE r.device_id = d.id AND r.during @> now() AND r.principal_id <> j.owner_id)
            ORDER BY j.priority DESC, j.scheduled_at, j.id
            LIMIT 1
            FOR UPDATE OF j SKIP LOCKED
        )
        UPDATE job j SET state = 'running', lease_owner = $1::text,
                         lease_expires_at = now() + make_interval(secs => $2::integer)
        FROM next WHERE j.id = next.id
        RETURNING j.id, j.program, j.shots, j.device_id, j.attempt, j.metadata ->> 'seed', epoch_us(j.deadline_at),
                  (SELECT CASE WHEN jsonb_typeof(d.properties -> 'qubits') = 'number' THEN (d.properties ->> 'qubits')::integer END
                   FROM device d WHERE d.id = j.device_id)
        """
    typealias Row = ClaimedJob
    let executor: String
    let leaseSeconds: Int
    var binds: [PostgresValue] { [.text(executor), .int(Int64(leaseSeconds))] }
    static func decode(_ row: ResultRow) throws -> ClaimedJob {
        ClaimedJob(
            id: try row.int(0), program: try row.string(1), shots: Int(try row.optionalInt(2) ?? 1024),
            deviceID: try row.string(3), attempt: Int(try row.int(4)), seedText: row.optionalString(5),
            deadline: Timestamp(microseconds: try row.int(6)), deviceQubits: try row.optionalInt(7).map(Int.init))
    }
}

/// Renews a lease and reads whether the job should stop; no row when the lease was lost (the job was re-leased
/// elsewhere or is no longer running).
struct JobLeaseRenew: Statement {
    static let sql = """
        UPDATE job SET lease_expires_at = now() + make_interval(secs => $3::integer)
        WHERE id = $1::bigint AND lease_owner = $2::text AND state = 'running'
        RETURNING cancel_requested, epoch_us(deadline_at)
        """
    typealias Row = (cancelRequested: Bool, deadline: Timestamp)
    let jobID: Int64
    let executor: String
    let leaseSeconds: Int
    var binds: [PostgresValue] { [.int(jobID), .text(executor), .int(Int64(leaseSeconds))] }
    static func decode(_ row: ResultRow) throws -> Row { (try row.bool(0), Timestamp(microseconds: try row.int(1))) }
}

/// Records the outcome of a run this executor still holds; no row when the lease was lost meanwhile.
struct JobFinishRun: Statement {
    static let sql = """
        UPDATE job SET state = $3::job_state, result = $4::jsonb, error = $5::text
        WHERE id = $1::bigint AND lease_owner = $2::text AND state = 'running'
        RETURNING id
        """
    typealias Row = Int64
    let jobID: Int64
    let executor: String
    let outcome: RunOutcome
    var binds: [PostgresValue] {
        [.int(jobID), .text(executor), .text(outcome.state.rawValue), .text(outcome.resultJSON), .text(outcome.error)]
    }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

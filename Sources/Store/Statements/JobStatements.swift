import Domain
import Postgres

/// Bytes as lowercase hexadecimal text, for `decode(…, 'hex')` in a JSON document or an array.
func hexadecimal(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes { text += [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]] }
    return String(decoding: text, as: UTF8.self)
}

/// A job as the API shows it, for the row `j`: built inline (a SQL function taking the row would be planned anew
/// on every call). `program` is the SQL expression for the program member (NULL unless asked for).
private func jobJSON(program: String = "NULL") -> String {
    """
    json_build_object(
        'id', j.id, 'name', j.name, 'owner', (SELECT p.name FROM principal p WHERE p.id = j.owner_id),
        'kind', j.kind, 'target', j.target, 'device_id', j.device_id, 'state', j.state, 'version', j.version,
        'priority', j.priority, 'shots', j.shots, 'qubits', j.qubits, 'max_duration_s', j.max_duration_s,
        'metadata', j.metadata, 'attempt', j.attempt, 'max_attempts', j.max_attempts,
        'cancel_requested', j.cancel_requested, 'error', j.error,
        'created_at', rfc3339(j.created_at), 'updated_at', rfc3339(j.updated_at),
        'scheduled_at', rfc3339(j.scheduled_at), 'started_at', rfc3339(j.started_at),
        'finished_at', rfc3339(j.finished_at), 'deadline_at', rfc3339(j.deadline_at), 'program', \(program))::text
    """
}

/// Submits jobs through `job_submit_batch` (0013_submits_in_batches.sql): one row per submission, in their order.
/// In the same statement, each submission that creates its job writes its audit row (`createdAudit`, in the same
/// order, with the job's id added to its detail): the row commits with the job or not at all.
struct JobSubmitBatch: Statement {
    static let sql = """
        WITH outcome AS MATERIALIZED (
            SELECT ordinal, job_id, created, same_request FROM job_submit_batch($1::jsonb)
        ), audited AS (
            \(auditInsertSQL(
                from: """
                    outcome o JOIN ROWS FROM (jsonb_to_recordset($2::jsonb) AS (\(auditEntryColumns)))
                        WITH ORDINALITY AS r ON r.ordinality = o.ordinal + 1 AND o.created
                    """,
                detail: "r.detail || jsonb_build_object('job_id', o.job_id)"))
        )
        SELECT ordinal, job_id, created, same_request FROM outcome ORDER BY ordinal
        """
    typealias Row = (ordinal: Int64, jobID: Int64?, isCreated: Bool, isSameRequest: Bool)
    let submissions: [JobSubmission]
    let createdAudit: [AuditEntry]
    var binds: [PostgresValue] {
        [.text(JSON.array(submissions.enumerated().map { Self.item($0.offset, $0.element) }).text),
         .text(JSON.array(createdAudit.map(\.json)).text)]
    }

    static func decode(_ row: ResultRow) throws -> Row {
        (try row.int(0), try row.optionalInt(1), try row.bool(2), try row.bool(3))
    }

    private static func item(_ ordinal: Int, _ submission: JobSubmission) -> JSON {
        func optional(_ value: Int?) -> JSON { value.map { .int(Int64($0)) } ?? .null }
        return .object([
            ("ordinal", .int(Int64(ordinal))), ("owner_id", .int(submission.ownerID)),
            ("idempotency_key", submission.idempotencyKey.map(JSON.string) ?? .null),
            ("request_hash", submission.requestHash.map { .string(hexadecimal($0)) } ?? .null),
            ("name", .string(submission.name)), ("kind", .string(submission.kind.rawValue)),
            ("target", .string(submission.target)), ("program", .string(submission.program)),
            ("shots", optional(submission.shots)), ("priority", .int(Int64(submission.priority))),
            ("max_duration_s", .int(Int64(submission.maxDurationSeconds))),
            // Serialized by our own writer from the parsed request body.
            ("metadata", .fragment(submission.metadataJSON)), ("qubits", optional(submission.qubits)),
        ])
    }
}

/// Statements whose rows are a job's version and its JSON.
protocol JobDocumentStatement: Statement where Row == JobDocument {}

extension JobDocumentStatement {
    static func decode(_ row: ResultRow) throws -> JobDocument {
        JobDocument(version: try row.int(0), json: try row.string(1))
    }
}

/// One job as JSON with its version and owner, visible to the owner filter (null: every owner).
struct JobGet: JobDocumentStatement {
    static let sql = """
        SELECT j.version, \(jobJSON(program: "CASE WHEN $3::boolean THEN j.program END")), j.owner_id FROM job j
        WHERE j.id = $1::bigint AND ($2::bigint IS NULL OR j.owner_id = $2::bigint)
        """
    let id: Int64
    let ownerFilter: Int64?
    let withProgram: Bool
    var binds: [PostgresValue] { [.int(id), .int(ownerFilter), .bool(withProgram)] }
}

/// The jobs `job_submit_batch` just created or found, as JSON with their versions: sent in the same round trip right
/// after it, before their ids are known (`switchyard.submitted_jobs`). A job an Idempotency-Key names that was
/// deleted has no row.
struct JobsSubmittedGet: Statement {
    static let sql = """
        SELECT j.id, j.version, \(jobJSON()) FROM job j
        WHERE j.id = ANY (string_to_array(nullif(current_setting('switchyard.submitted_jobs', true), ''), ',')::bigint[])
        """
    typealias Row = (id: Int64, document: JobDocument)
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Row {
        (try row.int(0), JobDocument(version: try row.int(1), json: try row.string(2)))
    }
}

/// The small status document of a job.
struct JobStatusGet: JobDocumentStatement {
    static let sql = """
        SELECT j.version, json_build_object('id', j.id, 'state', j.state, 'version', j.version,
               'cancel_requested', j.cancel_requested, 'device_id', j.device_id, 'updated_at', rfc3339(j.updated_at))::text
        FROM job j WHERE j.id = $1::bigint AND ($2::bigint IS NULL OR j.owner_id = $2::bigint)
        """
    let id: Int64
    let ownerFilter: Int64?
    var binds: [PostgresValue] { [.int(id), .int(ownerFilter)] }
}

/// The state of a visible job, to explain why a change did not apply.
struct JobStateGet: Statement {
    static let sql = "SELECT state FROM job WHERE id = $1::bigint AND ($2::bigint IS NULL OR owner_id = $2::bigint)"
    typealias Row = JobState
    let id: Int64
    let ownerFilter: Int64?
    var binds: [PostgresValue] { [.int(id), .int(ownerFilter)] }
    static func decode(_ row: ResultRow) throws -> JobState { JobState(rawValue: try row.string(0)) ?? .failed }
}

/// Jobs matching the filters, newest first (by id, so pages stay put while jobs are added), before a cursor.
/// Filters apply before the limit, so a page is never short while more rows match.
struct JobList: Statement {
    static let sql = """
        SELECT j.id, \(jobJSON()) FROM job j
        WHERE ($1::bigint IS NULL OR j.owner_id = $1::bigint)
          AND ($2::text[] IS NULL OR j.state::text = ANY ($2::text[]))
          AND ($3::text IS NULL OR j.target = $3::text)
          AND ($4::text IS NULL OR j.kind::text = $4::text)
          AND ($5::text IS NULL OR starts_with(j.name, $5::text))
          AND ($6::timestamptz IS NULL OR j.created_at > $6::timestamptz)
          AND ($7::timestamptz IS NULL OR j.created_at < $7::timestamptz)
          AND ($8::bigint IS NULL OR j.id < $8::bigint)
        ORDER BY j.id DESC
        LIMIT $9::integer
        """
    typealias Row = (id: Int64, json: String)
    let filter: JobFilter
    let beforeID: Int64?
    let limit: Int
    var binds: [PostgresValue] {
        [.int(filter.ownerID), filter.states.map { .textArray($0.map(\.rawValue)) } ?? .null, .text(filter.target),
         .text(filter.kind?.rawValue), .text(filter.namePrefix), .text(filter.createdAfter?.rfc3339),
         .text(filter.createdBefore?.rfc3339), .int(beforeID), .int(Int64(limit))]
    }
    static func decode(_ row: ResultRow) throws -> Row { (try row.int(0), try row.string(1)) }
}

/// A visible job's state, result and error.
struct JobResultsGet: Statement {
    static let sql = """
        SELECT j.state, json_build_object('id', j.id, 'state', j.state, 'kind', j.kind, 'result', j.result,
               'error', j.error, 'finished_at', rfc3339(j.finished_at), 'attempt', j.attempt)::text
        FROM job j WHERE j.id = $1::bigint AND ($2::bigint IS NULL OR j.owner_id = $2::bigint)
        """
    typealias Row = (state: JobState, json: String)
    let id: Int64
    let ownerFilter: Int64?
    var binds: [PostgresValue] { [.int(id), .int(ownerFilter)] }
    static func decode(_ row: ResultRow) throws -> Row { (JobState(rawValue: try row.string(0)) ?? .failed, try row.string(1)) }
}

/// Cancels a queued or scheduled job at once; marks a running one cancel-requested for its executor.
struct JobCancel: JobDocumentStatement {
    static let sql = """
        UPDATE job j SET
            state = CASE WHEN j.state IN ('queued', 'scheduled') THEN 'cancelled'::job_state ELSE j.state END,
            cancel_requested = (j.state = 'running') OR j.cancel_requested
        WHERE j.id = $1::bigint AND ($2::bigint IS NULL OR j.owner_id = $2::bigint)
          AND j.state IN ('queued', 'scheduled', 'running')
        RETURNING j.version, \(jobJSON())
        """
    let id: Int64
    let ownerFilter: Int64?
    var binds: [PostgresValue] { [.int(id), .int(ownerFilter)] }
}

/// Gives a running job more time: at most 24 hours beyond its own `max_duration_s` in all.
struct JobExtend: JobDocumentStatement {
    static let sql = """
        UPDATE job j SET deadline_at = j.deadline_at + make_interval(secs => $3::integer)
        WHERE j.id = $1::bigint AND ($2::bigint IS NULL OR j.owner_id = $2::bigint) AND j.state = 'running'
          AND j.deadline_at + make_interval(secs => $3::integer)
              <= j.started_at + make_interval(secs => j.max_duration_s) + interval '24 hours'
        RETURNING j.version, \(jobJSON())
        """
    let id: Int64
    let ownerFilter: Int64?
    let seconds: Int
    var binds: [PostgresValue] { [.int(id), .int(ownerFilter), .int(Int64(seconds))] }
}

/// Queues a finished, unsuccessful job again while it has attempts left.
struct JobRetry: JobDocumentStatement {
    static let sql = """
        UPDATE job j SET state = 'queued'
        WHERE j.id = $1::bigint AND ($2::bigint IS NULL OR j.owner_id = $2::bigint)
          AND j.state IN ('failed', 'cancelled', 'timed_out') AND j.attempt < j.max_attempts
        RETURNING j.version, \(jobJSON())
        """
    let id: Int64
    let ownerFilter: Int64?
    var binds: [PostgresValue] { [.int(id), .int(ownerFilter)] }
}

/// Attempts used and allowed, to explain a refused retry.
struct JobAttempts: Statement {
    static let sql = "SELECT attempt, max_attempts FROM job WHERE id = $1::bigint"
    typealias Row = (attempt: Int, maxAttempts: Int)
    let id: Int64
    var binds: [PostgresValue] { [.int(id)] }
    static func decode(_ row: ResultRow) throws -> Row { (Int(try row.int(0)), Int(try row.int(1))) }
}

/// Deletes a finished job.
struct JobDelete: Statement {
    static let sql = """
        DELETE FROM job j
        WHERE j.id = $1::bigint AND ($2::bigint IS NULL OR j.owner_id = $2::bigint) AND job_state_is_final(j.state)
        RETURNING j.id
        """
    typealias Row = Int64
    let id: Int64
    let ownerFilter: Int64?
    var binds: [PostgresValue] { [.int(id), .int(ownerFilter)] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

/// Counts by state and by target, and the age of the oldest queued job, over every owner. Live jobs are counted
/// through the partial indexes of the queued and of the active states, finished ones from their tally
/// (sql/migrations/0012), so the cost follows the live work, not the history.
struct QueueStatsGet: Statement {
    static let sql = """
        SELECT json_build_object(
            'by_state', (SELECT json_object_agg(state, jobs) FROM job_counts_by_state()),
            'by_target', (SELECT coalesce(json_object_agg(target, n), '{}')
                          FROM (SELECT target, count(*) AS n
                                FROM (SELECT target FROM job WHERE state = 'queued'
                                      UNION ALL
                                      SELECT target FROM job WHERE state IN ('scheduled', 'running')) live
                                GROUP BY target) t),
            'queued', (SELECT count(*) FROM job WHERE state = 'queued'),
            'oldest_queued_age_s', (SELECT extract(epoch FROM now() - min(created_at)) FROM job WHERE state = 'queued')
        )::text
        """
    typealias Row = String
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// The fleet at a glance: devices by status, jobs by state, queue depth and oldest queued age.
struct ClusterStatusGet: Statement {
    static let sql = """
        SELECT json_build_object(
            'devices_by_status', (SELECT coalesce(json_object_agg(status, n), '{}')
                                  FROM (SELECT status, count(*) AS n FROM device WHERE retired_at IS NULL GROUP BY status) d),
            'jobs_by_state', (SELECT json_object_agg(state, jobs) FROM job_counts_by_state()),
            'capacity', (SELECT coalesce(sum(capacity), 0) FROM device WHERE retired_at IS NULL AND status = 'online'),
            'active', (SELECT count(*) FROM job WHERE state IN ('scheduled', 'running')),
            'queue_depth', (SELECT count(*) FROM job WHERE state = 'queued'),
            'oldest_queued_age_s', (SELECT extract(epoch FROM now() - min(created_at)) FROM job WHERE state = 'queued')
        )::text
        """
    typealias Row = String
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// Sends the job notifications this session's committed transactions collected; returns how many.
struct JobAnnounce: Statement {
    static let sql = "SELECT job_announce()"
    typealias Row = Int64
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

/// Numbers committed events in commit order; returns the highest number.
struct JobEventSequence: Statement {
    static let sql = "SELECT job_event_sequence()"
    typealias Row = Int64
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

/// Numbered events after `after`, in order, visible to the owner filter.
struct JobEventsAfter: Statement {
    static let sql = """
        SELECT e.seq, json_build_object('id', e.seq, 'job_id', e.job_id, 'kind', e.kind, 'from_state', e.from_state,
               'to_state', e.to_state, 'version', e.version, 'at', rfc3339(e.at), 'detail', e.detail)::text
        FROM job_event e
        WHERE e.seq > $1::bigint AND ($2::bigint IS NULL OR e.owner_id = $2::bigint)
        ORDER BY e.seq
        LIMIT $3::integer
        """
    typealias Row = (seq: Int64, json: String)
    let after: Int64
    let ownerFilter: Int64?
    let limit: Int
    var binds: [PostgresValue] { [.int(after), .int(ownerFilter), .int(Int64(limit))] }
    static func decode(_ row: ResultRow) throws -> Row { (try row.int(0), try row.string(1)) }
}

/// The highest numbered event visible to the owner filter: the index of `GET /jobs`.
struct JobEventsHead: Statement {
    static let sql = """
        SELECT coalesce(max(seq), 0) FROM job_event WHERE seq IS NOT NULL AND ($1::bigint IS NULL OR owner_id = $1::bigint)
        """
    typealias Row = Int64
    let ownerFilter: Int64?
    var binds: [PostgresValue] { [.int(ownerFilter)] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

/// A principal's id by name (admins filter job lists by owner).
struct PrincipalIDByName: Statement {
    static let sql = "SELECT id FROM principal WHERE name = $1::text"
    typealias Row = Int64
    let name: String
    var binds: [PostgresValue] { [.text(name)] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

/// Forgets up to `limit` idempotency keys older than 24 hours: a bounded statement, so a backlog is worked off in
/// short transactions instead of one that outlasts the statement timeout.
struct IdempotencyKeyPrune: Statement {
    static let sql = """
        DELETE FROM idempotency_key WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM idempotency_key WHERE created_at < now() - interval '24 hours' LIMIT $1::integer))
        """
    let limit: Int
    var binds: [PostgresValue] { [.int(Int64(limit))] }
}

import Domain
import Postgres

/// The distinct targets of queued jobs, by a loose scan of the queue index (one probe per target).
struct SchedulerQueuedTargets: Statement {
    static let sql = """
        WITH RECURSIVE targets AS (
            (SELECT j.target FROM job j WHERE j.state = 'queued' ORDER BY j.target LIMIT 1)
            UNION ALL
            SELECT (SELECT j.target FROM job j WHERE j.state = 'queued' AND j.target > t.target ORDER BY j.target LIMIT 1)
            FROM targets t WHERE t.target IS NOT NULL
        )
        SELECT target FROM targets WHERE target IS NOT NULL
        """
    typealias Row = String
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// Owners after `$2` with queued jobs a round looks at, at most `$1`, in owner order (a loose scan).
protocol SchedulerOwnerScan: Statement where Row == Int64 {}

extension SchedulerOwnerScan {
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }

    /// The loose scan around `nextOwner(after)`, a scalar subquery for the first owner after `after`: the first
    /// owner after `$2`, then the one after each found, up to `$1`.
    static func query(nextOwner: (String) -> String) -> String {
        """
        WITH RECURSIVE owners AS (
            SELECT (\(nextOwner("$2::bigint"))) AS owner_id
            UNION ALL
            SELECT (\(nextOwner("o.owner_id"))) FROM owners o WHERE o.owner_id IS NOT NULL
        )
        SELECT owner_id FROM owners WHERE owner_id IS NOT NULL LIMIT $1::integer
        """
    }
}

/// The owner scan that probes the by-target queue index once per target `$3` and step: jobs for other targets
/// (waiting for a full device) are never read.
struct SchedulerOwnersByTarget: SchedulerOwnerScan {
    static let sql = query { after in
        """
        SELECT min(n.owner_id) FROM unnest($3::text[]) AS t (target)
        CROSS JOIN LATERAL (SELECT j.owner_id FROM job j WHERE j.state = 'queued' AND j.target = t.target
                            AND j.owner_id > \(after) ORDER BY j.owner_id LIMIT 1) n
        """
    }
    let limit: Int
    let after: Int64
    let targets: [String]
    var binds: [PostgresValue] { [.int(Int64(limit)), .int(after), .textArray(targets)] }
}

/// The owner scan that walks the by-owner queue index, leaving out jobs for the targets `$3`: one probe per step
/// when few queued jobs are left out. (`<> ALL` also keeps the planner on the by-owner index, which gives the order.)
struct SchedulerOwnersByOwner: SchedulerOwnerScan {
    static let sql = query { after in
        """
        SELECT j.owner_id FROM job j WHERE j.state = 'queued' AND j.owner_id > \(after)
                                     AND j.target <> ALL($3::text[])
        ORDER BY j.owner_id LIMIT 1
        """
    }
    let limit: Int
    let after: Int64
    let excluded: [String]
    var binds: [PostgresValue] { [.int(Int64(limit)), .int(after), .textArray(excluded)] }
}

/// Each owner's best queued jobs a round looks at (priority, then age), locked for this transaction; jobs another
/// scheduler holds are skipped, so two runs never place the same job. Also each owner's active (scheduled +
/// running) count.
protocol SchedulerCandidateScan: Statement where Row == SchedulingCandidate {}

extension SchedulerCandidateScan {
    static func decode(_ row: ResultRow) throws -> SchedulingCandidate {
        SchedulingCandidate(
            id: try row.int(0), ownerID: try row.int(1), priority: Int(try row.int(2)),
            kind: JobKind(rawValue: try row.string(3)) ?? .command, target: JobTarget(try row.string(4)) ?? .any,
            qubits: try row.optionalInt(5).map(Int.init), ownerActive: Int(try row.int(6)))
    }

    /// The scan around `jobs`, a subquery of owner `o.owner_id`'s candidates.
    static func query(jobs: String) -> String {
        """
        SELECT c.id, c.owner_id, c.priority, c.kind, c.target, c.qubits,
               coalesce((SELECT l.active_jobs FROM owner_load l WHERE l.owner_id = o.owner_id), 0)
        FROM unnest($1::bigint[]) AS o (owner_id)
        CROSS JOIN LATERAL (\(jobs)) c
        """
    }

    /// Up to `$2` of owner `o.owner_id`'s queued jobs that meet `condition`, best first, locked. A job whose
    /// target is held (`$4`, by the principal at the same place in `$5`: every device with room is reserved) is
    /// left out unless its owner holds it, so that it cannot take its owner's turn from jobs that can be placed.
    static func bestJobs(where condition: String) -> String {
        """
        SELECT j.id, j.owner_id, j.priority, j.kind, j.target, j.qubits FROM job j
        WHERE j.state = 'queued' AND j.owner_id = o.owner_id AND \(condition)
          AND (cardinality($4::text[]) = 0
               OR NOT EXISTS (SELECT 1 FROM unnest($4::text[], $5::bigint[]) AS h (target, holder)
                              WHERE h.target = j.target AND h.holder <> j.owner_id))
        ORDER BY j.priority DESC, j.id
        LIMIT $2::integer
        FOR UPDATE SKIP LOCKED
        """
    }
}

/// Candidates by one ordered probe per owner and target `$3`, merged per owner.
struct SchedulerCandidatesByTarget: SchedulerCandidateScan {
    static let sql = query(jobs: """
        SELECT best.* FROM unnest($3::text[]) AS t (target)
        CROSS JOIN LATERAL (\(bestJobs(where: "j.target = t.target"))) best
        ORDER BY best.priority DESC, best.id
        LIMIT $2::integer
        """)
    let owners: [Int64]
    let perOwner: Int
    let targets: [String]
    let heldTargets: [String]
    let holders: [Int64]
    var binds: [PostgresValue] {
        [.intArray(owners), .int(Int64(perOwner)), .textArray(targets), .textArray(heldTargets), .intArray(holders)]
    }
}

/// Candidates by walking each owner's queue in priority order, leaving out jobs for the targets `$3`.
struct SchedulerCandidatesByOwner: SchedulerCandidateScan {
    static let sql = query(jobs: bestJobs(where: "j.target <> ALL($3::text[])"))
    let owners: [Int64]
    let perOwner: Int
    let excluded: [String]
    let heldTargets: [String]
    let holders: [Int64]
    var binds: [PostgresValue] {
        [.intArray(owners), .int(Int64(perOwner)), .textArray(excluded), .textArray(heldTargets), .intArray(holders)]
    }
}

/// Every device that is not retired, with its load and who holds a reservation now. Read without locks: one
/// scheduler runs at a time (advisory lock), and other writers only lower the load.
struct SchedulerDevices: Statement {
    static let sql = """
        SELECT d.id, d.kind, d.status, d.capacity, d.labels,
               CASE WHEN jsonb_typeof(d.properties -> 'qubits') = 'number' THEN (d.properties ->> 'qubits')::integer END,
               d.active_jobs,
               (SELECT r.principal_id FROM reservation r WHERE r.device_id = d.id AND r.during @> now() LIMIT 1)
        FROM device d WHERE d.retired_at IS NULL
        ORDER BY d.id
        """
    typealias Row = DeviceSlot
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> DeviceSlot {
        DeviceSlot(
            id: try row.string(0), kind: DeviceKind(rawValue: try row.string(1)) ?? .host,
            status: DeviceStatus(rawValue: try row.string(2)) ?? .offline, capacity: Int(try row.int(3)),
            labels: try row.stringArray(4), qubits: try row.optionalInt(5).map(Int.init), active: Int(try row.int(6)),
            reservedBy: try row.optionalInt(7))
    }
}

/// Places queued jobs on devices. It stamps the row as the state trigger would, so the trigger's row function is
/// skipped (sql/migrations/0009); the statement trigger still records and notifies.
struct JobAssign: Statement {
    static let sql = """
        UPDATE job j SET state = 'scheduled', device_id = a.device_id, scheduled_at = now(), updated_at = now(),
                         version = j.version + 1, lease_owner = NULL, lease_expires_at = NULL
        FROM unnest($1::bigint[], $2::text[]) AS a (id, device_id)
        JOIN device d ON d.id = a.device_id AND d.retired_at IS NULL
        WHERE j.id = a.id AND j.state = 'queued'
        """
    let jobIDs: [Int64]
    let deviceIDs: [String]
    var binds: [PostgresValue] { [.intArray(jobIDs), .textArray(deviceIDs)] }
}

/// Fails queued jobs that no device can ever run, each with its reason.
struct JobFailUnplaceable: Statement {
    static let sql = """
        UPDATE job j SET state = 'failed', error = f.reason
        FROM unnest($1::bigint[], $2::text[]) AS f (id, reason)
        WHERE j.id = f.id AND j.state = 'queued'
        """
    let jobIDs: [Int64]
    let reasons: [String]
    var binds: [PostgresValue] { [.intArray(jobIDs), .textArray(reasons)] }
}

/// Running jobs past their deadline become timed_out (up to `limit` a call; jobs locked elsewhere wait their turn).
struct JobTimeOutOverdue: Statement {
    static let sql = """
        WITH overdue AS (
            SELECT id FROM job WHERE state = 'running' AND deadline_at < now()
            ORDER BY deadline_at LIMIT $1::integer FOR UPDATE SKIP LOCKED
        )
        UPDATE job j SET state = 'timed_out', error = 'ran longer than its max_duration_s'
        FROM overdue WHERE j.id = overdue.id
        """
    let limit: Int
    var binds: [PostgresValue] { [.int(Int64(limit))] }
}

/// Running jobs whose executor stopped renewing its lease (killed, say): back to scheduled for another attempt,
/// failed once their attempts are used up, or cancelled when a cancel was requested meanwhile.
struct JobReleaseExpiredLeases: Statement {
    static let sql = """
        WITH lost AS (
            SELECT id, attempt < max_attempts AS may_retry, cancel_requested FROM job
            WHERE state = 'running' AND lease_expires_at < now()
            ORDER BY lease_expires_at LIMIT $1::integer FOR UPDATE SKIP LOCKED
        )
        UPDATE job j SET
            state = CASE WHEN lost.cancel_requested THEN 'cancelled'::job_state
                         WHEN lost.may_retry THEN 'scheduled'::job_state ELSE 'failed'::job_state END,
            error = CASE WHEN lost.cancel_requested THEN 'cancelled while its executor was gone'
                         WHEN lost.may_retry THEN NULL
                         ELSE 'its executor stopped responding and it has no attempts left' END
        FROM lost WHERE j.id = lost.id
        """
    let limit: Int
    var binds: [PostgresValue] { [.int(Int64(limit))] }
}

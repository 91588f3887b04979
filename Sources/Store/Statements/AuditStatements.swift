import Domain
import Postgres

/// One audit row as the API renders it (built by PostgreSQL, passed through as JSON text).
private let auditJSON = """
    json_build_object(
        'id', a.id, 'at', rfc3339(a.at), 'request_id', a.request_id, 'event', a.event,
        'principal_id', a.principal_id, 'principal', a.principal_name, 'credential_kind', a.credential_kind,
        'key_prefix', a.key_prefix, 'method', a.method, 'route', a.route, 'status', a.status,
        'latency_us', a.latency_us, 'client_addr', a.client_addr, 'user_agent', a.user_agent, 'detail', a.detail,
        'seq', a.seq, 'hash', encode(a.hash, 'hex'))::text
    """

/// The insert of audit rows from `rows`, a relation with the columns of `AuditEntry.json`: `AuditInsert` and the
/// insert that goes with a group of submits (`JobSubmitBatch`) write rows the same way.
func auditInsertSQL(from rows: String, detail: String = "r.detail") -> String {
    """
    INSERT INTO audit_log (at, request_id, event, principal_id, principal_name, credential_kind, key_prefix,
                           method, route, status, latency_us, client_addr, user_agent, detail)
    SELECT 'epoch'::timestamptz + r.at_us * interval '1 microsecond', r.request_id, r.event, r.principal_id,
           r.principal_name, r.credential_kind, r.key_prefix, r.method, r.route, r.status, r.latency_us,
           r.client_addr, r.user_agent, \(detail)
    FROM \(rows)
    ORDER BY r.at_us
    """
}

/// The columns of `AuditEntry.json`, for `jsonb_to_recordset`.
let auditEntryColumns = """
    at_us bigint, request_id text, event text, principal_id bigint, principal_name text, credential_kind text,
    key_prefix text, method text, route text, status smallint, latency_us integer, client_addr text, user_agent text,
    detail jsonb
    """

/// Appends audit rows.
struct AuditInsert: Statement {
    // One statement for any number of rows: a batch costs one round trip and one plan.
    static let sql = auditInsertSQL(from: "jsonb_to_recordset($1::jsonb) AS r(\(auditEntryColumns))")
    let entries: [AuditEntry]
    var binds: [PostgresValue] {
        [.text(JSON.array(entries.map(\.json)).text)]
    }
}

/// Audit rows matching the filters, newest first, before a cursor id.
struct AuditList: Statement {
    static let sql = """
        SELECT a.id, \(auditJSON) FROM audit_log a
        WHERE ($1::text IS NULL OR a.principal_id = (SELECT id FROM principal WHERE name = $1::text))
          AND ($2::text IS NULL OR a.event = $2::text)
          AND ($3::text IS NULL OR a.route = $3::text)
          AND ($4::integer IS NULL OR a.status = $4::integer)
          AND ($5::timestamptz IS NULL OR a.at >= $5::timestamptz)
          AND ($6::timestamptz IS NULL OR a.at < $6::timestamptz)
          AND ($7::bigint IS NULL OR a.id < $7::bigint)
        ORDER BY a.id DESC
        LIMIT $8::integer
        """
    typealias Row = (id: Int64, json: String)
    let filter: AuditFilter
    let beforeID: Int64?
    let limit: Int
    var binds: [PostgresValue] {
        [.text(filter.principalName), .text(filter.event), .text(filter.route), .int(filter.status),
         .text(filter.from?.rfc3339), .text(filter.to?.rfc3339), .int(beforeID), .int(Int64(limit))]
    }
    static func decode(_ row: ResultRow) throws -> Row { (try row.int(0), try row.string(1)) }
}

/// One audit row by id.
struct AuditGet: Statement {
    static let sql = "SELECT \(auditJSON) FROM audit_log a WHERE a.id = $1::bigint"
    typealias Row = String
    let id: Int64
    var binds: [PostgresValue] { [.int(id)] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// A page of the export: rows in a time range after a cursor id, oldest first.
struct AuditExportPage: Statement {
    static let sql = """
        SELECT a.id, \(auditJSON) FROM audit_log a
        WHERE ($1::timestamptz IS NULL OR a.at >= $1::timestamptz) AND ($2::timestamptz IS NULL OR a.at < $2::timestamptz)
          AND a.id > $3::bigint
        ORDER BY a.id
        LIMIT $4::integer
        """
    typealias Row = (id: Int64, json: String)
    let from: Timestamp?
    let to: Timestamp?
    let afterID: Int64
    let limit: Int
    var binds: [PostgresValue] { [.text(from?.rfc3339), .text(to?.rfc3339), .int(afterID), .int(Int64(limit))] }
    static func decode(_ row: ResultRow) throws -> Row { (try row.int(0), try row.string(1)) }
}

/// Seals up to `batch` rows into the hash chain; returns how many.
struct AuditSeal: Statement {
    static let sql = "SELECT audit_seal($1::integer)"
    typealias Row = Int
    let batch: Int
    var binds: [PostgresValue] { [.int(Int64(batch))] }
    static func decode(_ row: ResultRow) throws -> Int { Int(try row.int(0)) }
}

/// Sealed rows in chain order after `afterSeq`, each field in exactly the text form `audit_canonical` hashes.
struct AuditChainPage: Statement {
    static let sql = """
        SELECT a.seq, a.id::text, epoch_us(a.at)::text, a.request_id, a.event, a.principal_id::text, a.principal_name,
               a.credential_kind, a.key_prefix, a.method, a.route, a.status::text, a.latency_us::text, a.client_addr,
               a.user_agent, a.detail::text, a.prev_hash, a.hash
        FROM audit_log a
        WHERE a.seq > $1::bigint
        ORDER BY a.seq
        LIMIT $2::integer
        """
    typealias Row = SealedAuditRow
    let afterSeq: Int64
    let limit: Int
    var binds: [PostgresValue] { [.int(afterSeq), .int(Int64(limit))] }
    static func decode(_ row: ResultRow) throws -> SealedAuditRow {
        SealedAuditRow(
            seq: try row.int(0), fields: (1...15).map { row.optionalString($0) }, previousHash: try row.bytes(16),
            hash: try row.bytes(17))
    }
}

/// Rows not yet sealed.
struct AuditUnsealedCount: Statement {
    static let sql = "SELECT count(*) FROM audit_log WHERE seq IS NULL"
    typealias Row = Int64
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

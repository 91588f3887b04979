import Domain
import Postgres

private let roleColumns = """
    r.name, r.description, r.permissions, r.is_builtin, r.rate_per_minute, r.rate_per_hour, r.rate_burst,
    epoch_us(r.created_at), epoch_us(r.updated_at)
    """

extension RoleRecord {
    init(_ row: ResultRow) throws {
        name = try row.string(0)
        description = try row.string(1)
        permissions = try row.stringArray(2)
        isBuiltin = try row.bool(3)
        ratePerMinute = Int(try row.int(4))
        ratePerHour = Int(try row.int(5))
        rateBurst = Int(try row.int(6))
        createdAt = Timestamp(microseconds: try row.int(7))
        updatedAt = Timestamp(microseconds: try row.int(8))
    }
}

/// Every role, by name.
struct RoleList: Statement {
    static let sql = "SELECT \(roleColumns) FROM role r ORDER BY r.name"
    typealias Row = RoleRecord
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> RoleRecord { try RoleRecord(row) }
}

/// Creates or replaces a role. A built-in role keeps its permissions: the update matches no row when they would
/// change (compared as sets: the order they are listed in means nothing), and the caller reports the conflict.
struct RoleUpsert: Statement {
    static let sql = """
        INSERT INTO role AS r (name, description, permissions, rate_per_minute, rate_per_hour, rate_burst)
        VALUES ($1::text, $2::text, $3::text[], $4::integer, $5::integer, $6::integer)
        ON CONFLICT (name) DO UPDATE SET
            description = excluded.description, permissions = excluded.permissions,
            rate_per_minute = excluded.rate_per_minute, rate_per_hour = excluded.rate_per_hour,
            rate_burst = excluded.rate_burst, updated_at = now()
        WHERE NOT r.is_builtin OR (r.permissions @> excluded.permissions AND r.permissions <@ excluded.permissions)
        RETURNING \(roleColumns), (xmax = 0)
        """
    typealias Row = (role: RoleRecord, isNew: Bool)
    let role: RoleDefinition
    var binds: [PostgresValue] {
        [.text(role.name), .text(role.description), .textArray(role.permissions), .int(Int64(role.ratePerMinute)),
         .int(Int64(role.ratePerHour)), .int(Int64(role.rateBurst))]
    }
    static func decode(_ row: ResultRow) throws -> Row { (try RoleRecord(row), try row.bool(9)) }
}

/// Deletes a custom role; one still held by principals fails on principal_role_role_name_fkey.
struct RoleDelete: Statement {
    static let sql = "DELETE FROM role WHERE name = $1::text AND NOT is_builtin RETURNING name"
    typealias Row = String
    let name: String
    var binds: [PostgresValue] { [.text(name)] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// Whether a role exists and is built in.
struct RoleIsBuiltin: Statement {
    static let sql = "SELECT is_builtin FROM role WHERE name = $1::text"
    typealias Row = Bool
    let name: String
    var binds: [PostgresValue] { [.text(name)] }
    static func decode(_ row: ResultRow) throws -> Bool { try row.bool(0) }
}

/// Registers a client certificate for a principal (by name).
struct CertificateInsert: Statement {
    static let sql = """
        INSERT INTO principal_certificate (fingerprint, principal_id, subject, not_after, description)
        SELECT $1::bytea, p.id, $3::text, $4::timestamptz, $5::text FROM principal p
        WHERE p.name = $2::text AND p.deleted_at IS NULL
        RETURNING principal_id
        """
    typealias Row = Int64
    let fingerprint: [UInt8]
    let principalName: String
    let subject: String
    let notAfter: Timestamp
    let description: String
    var binds: [PostgresValue] {
        [.bytes(fingerprint), .text(principalName), .text(subject), .text(notAfter.rfc3339), .text(description)]
    }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

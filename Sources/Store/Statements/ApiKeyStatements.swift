import Domain
import Postgres

private let keyColumns = """
    k.id, k.prefix, k.principal_id, k.kind, k.scopes, k.description, epoch_us(k.created_at), epoch_us(k.expires_at),
    epoch_us(k.last_used_at), epoch_us(k.revoked_at)
    """

extension ApiKeyRecord {
    init(_ row: ResultRow) throws {
        id = try row.int(0)
        prefix = try row.string(1)
        principalID = try row.int(2)
        isSession = try row.string(3) == "session"
        scopes = try row.stringArray(4)
        description = try row.string(5)
        createdAt = Timestamp(microseconds: try row.int(6))
        expiresAt = try row.optionalInt(7).map(Timestamp.init(microseconds:))
        lastUsedAt = try row.optionalInt(8).map(Timestamp.init(microseconds:))
        revokedAt = try row.optionalInt(9).map(Timestamp.init(microseconds:))
    }
}

/// Stores a new key (its hash only).
struct ApiKeyInsert: Statement {
    static let sql = """
        INSERT INTO api_key AS k (prefix, secret_hash, principal_id, kind, scopes, description, expires_at)
        VALUES ($1::text, $2::bytea, $3::bigint, $4::text, $5::text[], $6::text, $7::timestamptz)
        RETURNING \(keyColumns)
        """
    typealias Row = ApiKeyRecord
    let prefix: String
    let hash: [UInt8]
    let principalID: Int64
    let isSession: Bool
    let scopes: [String]
    let description: String
    let expiresAt: Timestamp?
    var binds: [PostgresValue] {
        [.text(prefix), .bytes(hash), .int(principalID), .text(isSession ? "session" : "long_lived"), .textArray(scopes),
         .text(description), .text(expiresAt?.rfc3339)]
    }
    static func decode(_ row: ResultRow) throws -> ApiKeyRecord { try ApiKeyRecord(row) }
}

/// A principal's keys, newest first.
struct ApiKeyListByPrincipal: Statement {
    static let sql = "SELECT \(keyColumns) FROM api_key k WHERE k.principal_id = $1::bigint ORDER BY k.id DESC"
    typealias Row = ApiKeyRecord
    let principalID: Int64
    var binds: [PostgresValue] { [.int(principalID)] }
    static func decode(_ row: ResultRow) throws -> ApiKeyRecord { try ApiKeyRecord(row) }
}

/// Revokes a key now (also one in its rotation grace period); revoking twice keeps the first time. The owner
/// filter (null for admins) makes another owner's key look absent.
struct ApiKeyRevoke: Statement {
    static let sql = """
        UPDATE api_key k SET revoked_at = CASE WHEN k.revoked_at IS NULL OR k.revoked_at > now() THEN now() ELSE k.revoked_at END
        WHERE k.prefix = $1::text AND ($2::bigint IS NULL OR k.principal_id = $2::bigint)
        RETURNING \(keyColumns)
        """
    typealias Row = ApiKeyRecord
    let prefix: String
    let ownerFilter: Int64?
    var binds: [PostgresValue] { [.text(prefix), .int(ownerFilter)] }
    static func decode(_ row: ResultRow) throws -> ApiKeyRecord { try ApiKeyRecord(row) }
}

/// Locks a usable key of an owner for rotation.
struct ApiKeyLockForRotation: Statement {
    static let sql = """
        SELECT \(keyColumns) FROM api_key k
        WHERE k.prefix = $1::text AND k.principal_id = $2::bigint
          AND (k.revoked_at IS NULL OR k.revoked_at > now()) AND (k.expires_at IS NULL OR k.expires_at > now())
        FOR UPDATE
        """
    typealias Row = ApiKeyRecord
    let prefix: String
    let principalID: Int64
    var binds: [PostgresValue] { [.text(prefix), .int(principalID)] }
    static func decode(_ row: ResultRow) throws -> ApiKeyRecord { try ApiKeyRecord(row) }
}

/// Retires a rotated key: it stops working after the grace period and points at its replacement.
struct ApiKeyRetire: Statement {
    static let sql = """
        UPDATE api_key k SET revoked_at = now() + make_interval(secs => $2::integer), replaced_by = $3::bigint
        WHERE k.id = $1::bigint
        RETURNING \(keyColumns)
        """
    typealias Row = ApiKeyRecord
    let keyID: Int64
    let graceSeconds: Int
    let replacementID: Int64
    var binds: [PostgresValue] { [.int(keyID), .int(Int64(graceSeconds)), .int(replacementID)] }
    static func decode(_ row: ResultRow) throws -> ApiKeyRecord { try ApiKeyRecord(row) }
}

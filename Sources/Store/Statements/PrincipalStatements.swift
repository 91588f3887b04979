import Domain
import Postgres

/// The columns every principal read returns, in `PrincipalRecord` order.
private let principalColumns = """
    p.id, p.name, p.kind, p.display_name, p.email, p.is_active, p.is_external,
    coalesce((SELECT array_agg(role_name ORDER BY role_name) FROM principal_role WHERE principal_id = p.id), '{}'),
    epoch_us(p.created_at), epoch_us(p.updated_at)
    """

extension PrincipalRecord {
    init(_ row: ResultRow) throws {
        id = try row.int(0)
        name = try row.string(1)
        kind = PrincipalKind(rawValue: try row.string(2)) ?? .user
        displayName = try row.string(3)
        email = row.optionalString(4)
        isActive = try row.bool(5)
        isExternal = try row.bool(6)
        roles = try row.stringArray(7)
        createdAt = Timestamp(microseconds: try row.int(8))
        updatedAt = Timestamp(microseconds: try row.int(9))
    }
}

/// Creates a principal with its roles in one statement; an unknown role fails the whole insert
/// (principal_role_role_name_fkey), a taken name fails on principal_name_unique.
struct PrincipalInsert: Statement {
    static let sql = """
        WITH p AS (
            INSERT INTO principal (name, kind, display_name, email, password_hash)
            VALUES ($1::text, $2::principal_kind, $3::text, $4::text, $5::text)
            RETURNING *
        ), r AS (
            INSERT INTO principal_role (principal_id, role_name) SELECT p.id, unnest($6::text[]) FROM p
        )
        SELECT p.id, p.name, p.kind, p.display_name, p.email, p.is_active, p.is_external,
               coalesce((SELECT array_agg(x ORDER BY x) FROM unnest($6::text[]) x), '{}'),
               epoch_us(p.created_at), epoch_us(p.updated_at)
        FROM p
        """
    typealias Row = PrincipalRecord
    let name: String
    let kind: PrincipalKind
    let displayName: String
    let email: String?
    let passwordHash: String?
    let roles: [String]
    var binds: [PostgresValue] {
        [.text(name), .text(kind.rawValue), .text(displayName), .text(email), .text(passwordHash), .textArray(roles)]
    }
    static func decode(_ row: ResultRow) throws -> PrincipalRecord { try PrincipalRecord(row) }
}

/// One principal by name (deleted ones excluded).
struct PrincipalGetByName: Statement {
    static let sql = "SELECT \(principalColumns) FROM principal p WHERE p.name = $1::text AND p.deleted_at IS NULL"
    typealias Row = PrincipalRecord
    let name: String
    var binds: [PostgresValue] { [.text(name)] }
    static func decode(_ row: ResultRow) throws -> PrincipalRecord { try PrincipalRecord(row) }
}

/// Principals in name order after a cursor name, deleted ones excluded.
struct PrincipalList: Statement {
    static let sql = """
        SELECT \(principalColumns) FROM principal p
        WHERE p.deleted_at IS NULL AND ($1::text IS NULL OR p.name > $1::text)
        ORDER BY p.name LIMIT $2::integer
        """
    typealias Row = PrincipalRecord
    let afterName: String?
    let limit: Int
    var binds: [PostgresValue] { [.text(afterName), .int(Int64(limit))] }
    static func decode(_ row: ResultRow) throws -> PrincipalRecord { try PrincipalRecord(row) }
}

/// Changes the given fields of a principal (nil: unchanged; an empty email clears it) and, when `roles` is not
/// null, replaces its roles, in one statement.
struct PrincipalUpdate: Statement {
    static let sql = """
        WITH p AS (
            UPDATE principal SET
                display_name = coalesce($2::text, display_name),
                email = CASE WHEN $3::text IS NULL THEN email ELSE nullif($3::text, '') END,
                is_active = coalesce($4::boolean, is_active),
                password_hash = coalesce($5::text, password_hash),
                updated_at = now()
            WHERE name = $1::text AND deleted_at IS NULL
            RETURNING *
        ), removed AS (
            DELETE FROM principal_role pr USING p
            WHERE $6::text[] IS NOT NULL AND pr.principal_id = p.id AND NOT pr.role_name = ANY ($6::text[])
        ), added AS (
            INSERT INTO principal_role (principal_id, role_name)
            SELECT p.id, unnest($6::text[]) FROM p WHERE $6::text[] IS NOT NULL
            ON CONFLICT DO NOTHING
        )
        SELECT p.id, p.name, p.kind, p.display_name, p.email, p.is_active, p.is_external,
               CASE WHEN $6::text[] IS NOT NULL THEN (SELECT coalesce(array_agg(x ORDER BY x), '{}') FROM unnest($6::text[]) x)
                    ELSE coalesce((SELECT array_agg(role_name ORDER BY role_name) FROM principal_role WHERE principal_id = p.id), '{}')
               END,
               epoch_us(p.created_at), epoch_us(p.updated_at)
        FROM p
        """
    typealias Row = PrincipalRecord
    let name: String
    let displayName: String?
    let email: String?
    let isActive: Bool?
    let passwordHash: String?
    let roles: [String]?
    var binds: [PostgresValue] {
        [.text(name), .text(displayName), .text(email), .bool(isActive), .text(passwordHash), roles.map(PostgresValue.textArray) ?? .null]
    }
    static func decode(_ row: ResultRow) throws -> PrincipalRecord { try PrincipalRecord(row) }
}

/// Deletes a principal the only way that keeps its jobs and audit rows meaningful: deactivated, hidden, and every
/// key revoked, in one statement.
struct PrincipalDelete: Statement {
    static let sql = """
        WITH p AS (
            UPDATE principal SET is_active = false, deleted_at = now(), updated_at = now()
            WHERE name = $1::text AND deleted_at IS NULL
            RETURNING id
        ), keys AS (
            UPDATE api_key k SET revoked_at = now() FROM p
            WHERE k.principal_id = p.id AND (k.revoked_at IS NULL OR k.revoked_at > now())
        )
        SELECT id FROM p
        """
    typealias Row = Int64
    let name: String
    var binds: [PostgresValue] { [.text(name)] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

/// What a login needs: the principal's id, password hash and whether it may log in.
struct PrincipalCredentials: Statement {
    static let sql = """
        SELECT id, password_hash, is_active AND deleted_at IS NULL FROM principal WHERE name = $1::text
        """
    typealias Row = (id: Int64, passwordHash: String?, isActive: Bool)
    let name: String
    var binds: [PostgresValue] { [.text(name)] }
    static func decode(_ row: ResultRow) throws -> Row { (try row.int(0), row.optionalString(1), try row.bool(2)) }
}

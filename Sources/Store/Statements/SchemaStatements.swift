import Postgres

/// The bookkeeping table of applied migrations; created by the migrator itself before anything else.
enum SchemaMigrationCreateTable {
    static let sql = """
        CREATE TABLE IF NOT EXISTS schema_migration (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            sha256     text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
}

/// Applied migrations in version order.
struct SchemaMigrationList: Statement {
    static let sql = "SELECT version, name, sha256 FROM schema_migration ORDER BY version"
    typealias Row = (version: Int, name: String, sha256: String)
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Row {
        (Int(try row.int(0)), try row.string(1), try row.string(2))
    }
}

/// Records one applied migration.
struct SchemaMigrationInsert: Statement {
    static let sql = "INSERT INTO schema_migration (version, name, sha256) VALUES ($1::integer, $2::text, $3::text)"
    let version: Int
    let name: String
    let sha256: String
    var binds: [PostgresValue] { [.int(Int64(version)), .text(name), .text(sha256)] }
}

/// The newest applied migration version (0 when none); the readiness check compares it with `Schema.version`.
struct SchemaVersionCurrent: Statement {
    static let sql = "SELECT coalesce(max(version), 0) FROM schema_migration"
    typealias Row = Int
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Int { Int(try row.int(0)) }
}

/// Blocks until the session holds the advisory lock `key`.
struct AdvisoryLockAcquire: Statement {
    static let sql = "SELECT pg_advisory_lock($1::bigint)"
    let key: Int64
    var binds: [PostgresValue] { [.int(key)] }
}

/// Takes the session advisory lock `key` if it is free; the row says whether it was taken.
struct AdvisoryLockTry: Statement {
    static let sql = "SELECT pg_try_advisory_lock($1::bigint)"
    typealias Row = Bool
    let key: Int64
    var binds: [PostgresValue] { [.int(key)] }
    static func decode(_ row: ResultRow) throws -> Bool { try row.bool(0) }
}

/// Releases the session advisory lock `key`.
struct AdvisoryLockRelease: Statement {
    static let sql = "SELECT pg_advisory_unlock($1::bigint)"
    let key: Int64
    var binds: [PostgresValue] { [.int(key)] }
}

import Postgres

/// What this build expects of the database schema.
public enum Schema {
    /// The newest migration in `sql/migrations` this code was written against. A unit test keeps it equal to the
    /// highest file number, and `/api/v1/health/ready` answers 503 until the database has reached it.
    public static let version = 22
}

/// Advisory lock keys, one per single-runner job, spelled once so two programs never pick the same number.
///
/// These are session locks of the one-`bigint` form. The SQL functions that serialize their callers use the
/// two-`integer` form, a separate key space: `audit_seal()` (21335, 1) and `job_event_sequence()` (21335, 2)
/// (`sql/migrations/0018_own_advisory_lock_keys.sql`).
public enum AdvisoryLockKey {
    public static let migrations: Int64 = 0x5357_0001
    public static let sweeper: Int64 = 0x5357_0002
    public static let scheduler: Int64 = 0x5357_0003
}

/// A session advisory lock for a single-runner batch: the second run on any host finds it taken and exits.
public struct AdvisoryLock {
    private let connection: Connection
    private let key: Int64

    public init(connection: Connection, key: Int64) {
        self.connection = connection
        self.key = key
    }

    /// Takes the lock if it is free; the lock lasts until `release()` or the session ends (a killed run frees it).
    public func tryAcquire() throws -> Bool {
        try connection.first(AdvisoryLockTry(key: key)) ?? false
    }

    public func release() throws {
        try connection.execute(AdvisoryLockRelease(key: key))
    }
}

/// Health facts that need the database.
public struct HealthStore {
    private let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// The newest applied migration version (0 for a database never migrated); throws when it is unreachable.
    public func schemaVersion() throws -> Int {
        do {
            return try connection.first(SchemaVersionCurrent()) ?? 0
        } catch let error as DatabaseError where error.sqlState ~= .undefinedTable {
            return 0
        }
    }
}

import Postgres

/// What this build expects of the database schema.
public enum Schema {
    /// The newest migration in `sql/migrations` this code was written against. A unit test keeps it equal to the
    /// highest file number, and `/api/v1/health/ready` answers 503 until the database has reached it.
    public static let version = 1
}

/// Advisory lock keys, one per single-runner job, spelled once so two programs never pick the same number.
public enum AdvisoryLockKey {
    public static let migrations: Int64 = 0x5357_0001
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

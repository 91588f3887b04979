import Domain
import Glibc
import Postgres

/// One file of `sql/migrations`: `NNNN_snake_name.sql`, applied in version order.
public struct MigrationFile: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Reads every `NNNN_name.sql` file of a directory, sorted by version.
    public static func load(directory: String) throws(MigrationError) -> [MigrationFile] {
        guard let handle = opendir(directory) else { throw MigrationError.unreadable(directory) }
        defer { closedir(handle) }
        var files: [MigrationFile] = []
        while let entry = readdir(handle) {
            let fileName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            guard fileName.hasSuffix(".sql") else { continue }
            let stem = fileName.dropLast(4)
            let parts = stem.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 4, let version = Int(parts[0]) else {
                throw MigrationError.badFileName(fileName)
            }
            let path = directory + "/" + fileName
            guard let text = TextFile.read(path) else { throw MigrationError.unreadable(path) }
            if files.contains(where: { $0.version == version }) { throw MigrationError.duplicateVersion(version) }
            files.append(MigrationFile(version: version, name: String(parts[1]), sql: text))
        }
        return files.sorted { $0.version < $1.version }
    }
}

/// Why migrating stopped.
public enum MigrationError: Error, CustomStringConvertible {
    case unreadable(String)
    case badFileName(String)
    case duplicateVersion(Int)
    /// An applied migration's file changed after it was applied: fix forward with a new file instead.
    case checksumMismatch(version: Int, name: String, recorded: String, current: String)
    /// The database has a migration this checkout does not know: the code is older than the schema.
    case unknownApplied(version: Int, name: String)
    case failed(version: Int, name: String, DatabaseError)

    public var description: String {
        switch self {
        case .unreadable(let path): "cannot read \(path)"
        case .badFileName(let name): "migration file \(name) is not named NNNN_snake_name.sql"
        case .duplicateVersion(let version): "two migration files have version \(version)"
        case .checksumMismatch(let version, let name, let recorded, let current):
            "migration \(version)_\(name) was changed after it was applied (recorded sha256 \(recorded), file now "
                + "\(current)); never edit an applied migration, add a new one"
        case .unknownApplied(let version, let name):
            "the database has migration \(version)_\(name), which this checkout lacks; deploy newer code"
        case .failed(let version, let name, let error):
            "migration \(version)_\(name) failed and was rolled back: \(error.debugDescription)"
        }
    }
}

/// Applies `sql/migrations` in order, each file in one transaction, recorded in `schema_migration` with its
/// SHA-256; re-running is a no-op and an applied file that changed is refused.
///
/// The same code path serves production, CI and the test harness. A session advisory lock keeps two concurrent
/// runs (two hosts deploying at once) from applying the same file twice.
public struct Migrator {
    /// A migration may scan a whole table (a new constraint's validation), so the programs' statement timeout does
    /// not apply to it. It waits at most 10 s for a table's lock, though, and is then tried again (three times in
    /// all): while it waits, every query of that table queues behind it.
    static let transactionSettings = "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = '10s'"

    private let connection: Connection
    private let checksum: (String) -> String

    /// - Parameter checksum: hex SHA-256 of a file's text (the OpenSSL target's, injected to keep Store free of C).
    public init(connection: Connection, checksum: @escaping (String) -> String) {
        self.connection = connection
        self.checksum = checksum
    }

    /// Applies every pending file and returns those it applied.
    public func migrate(_ files: [MigrationFile]) throws -> [MigrationFile] {
        try connection.execute(AdvisoryLockAcquire(key: AdvisoryLockKey.migrations))
        defer { _ = try? connection.execute(AdvisoryLockRelease(key: AdvisoryLockKey.migrations)) }
        try connection.executeScript(unsafeSQL: SchemaMigrationCreateTable.sql)
        let applied = try connection.rows(SchemaMigrationList())
        let byVersion = Dictionary(uniqueKeysWithValues: files.map { ($0.version, $0) })
        for record in applied {
            guard let file = byVersion[record.version] else {
                throw MigrationError.unknownApplied(version: record.version, name: record.name)
            }
            let current = checksum(file.sql)
            if current != record.sha256 {
                throw MigrationError.checksumMismatch(
                    version: record.version, name: record.name, recorded: record.sha256, current: current)
            }
        }
        let appliedVersions = Set(applied.map(\.version))
        var newlyApplied: [MigrationFile] = []
        for file in files where !appliedVersions.contains(file.version) {
            var attempt = 1
            while true {
                do {
                    try connection.transaction {
                        try connection.executeScript(unsafeSQL: Self.transactionSettings)
                        try connection.executeScript(unsafeSQL: file.sql)
                        try connection.execute(
                            SchemaMigrationInsert(version: file.version, name: file.name, sha256: checksum(file.sql)))
                    }
                    break
                } catch let error as DatabaseError where error.sqlState ~= .lockNotAvailable && attempt < 3 {
                    attempt += 1
                } catch let error as DatabaseError {
                    throw MigrationError.failed(version: file.version, name: file.name, error)
                }
            }
            newlyApplied.append(file)
        }
        return newlyApplied
    }

    /// Versions recorded as applied, for `migrate --status`.
    public func appliedVersions() throws -> [Int] {
        try connection.executeScript(unsafeSQL: SchemaMigrationCreateTable.sql)
        return try connection.rows(SchemaMigrationList()).map(\.version)
    }
}

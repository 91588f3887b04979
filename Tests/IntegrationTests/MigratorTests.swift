import Domain
import OpenSSL
import Postgres
import Store
import Testing

private struct CreateDatabase: Statement {
    // Identifiers cannot be parameters; the name is a constant of this test.
    static let sql = "CREATE DATABASE switchyard_migrator_test"
    var binds: [PostgresValue] { [] }
}

private struct DropDatabase: Statement {
    static let sql = "DROP DATABASE IF EXISTS switchyard_migrator_test WITH (FORCE)"
    var binds: [PostgresValue] { [] }
}

private struct TableExists: Statement {
    static let sql = "SELECT to_regclass($1::text) IS NOT NULL"
    typealias Row = Bool
    let name: String
    var binds: [PostgresValue] { [.text(name)] }
    static func decode(_ row: ResultRow) throws -> Bool { try row.bool(0) }
}

@Suite(.enabled(if: TestDatabase.isAvailable), .serialized) struct MigratorTests {
    let checksum: (String) -> String = { Hex.encode(SHA256.hash($0)) }

    private func withScratchDatabase(_ body: (Connection) throws -> Void) throws {
        let admin = TestDatabase.superuser()
        try admin.execute(DropDatabase())
        try admin.execute(CreateDatabase())
        defer { _ = try? admin.execute(DropDatabase()) }
        let connection = Connection(conninfo: TestDatabase.url(database: "switchyard_migrator_test"))
        defer { connection.close() }
        try body(connection)
    }

    @Test func appliesInOrderAndIsANoOpTheSecondTime() throws {
        try withScratchDatabase { (connection: Connection) throws in
            let files = [
                MigrationFile(version: 1, name: "one", sql: "CREATE TABLE one (id int PRIMARY KEY)"),
                MigrationFile(version: 2, name: "two", sql: "CREATE TABLE two (id int REFERENCES one (id))"),
            ]
            let migrator = Migrator(connection: connection, checksum: checksum)
            #expect(try migrator.migrate(files).map(\.version) == [1, 2])
            #expect(try migrator.migrate(files).isEmpty)
            #expect(try migrator.appliedVersions() == [1, 2])
            #expect(try connection.first(TableExists(name: "two")) == true)
        }
    }

    @Test func aLongMigrationOutlivesTheProgramsStatementTimeout() throws {
        try withScratchDatabase { (_: Connection) throws in
            // As `switchyardctl migrate` connects: with the programs' statement timeout.
            let connection = Connection(
                conninfo: TestDatabase.url(database: "switchyard_migrator_test") + "&options=-c%20statement_timeout%3D100")
            defer { connection.close() }
            let slow = MigrationFile(version: 1, name: "slow", sql: "SELECT pg_sleep(0.3); CREATE TABLE slow (id int)")
            #expect(try Migrator(connection: connection, checksum: checksum).migrate([slow]).map(\.version) == [1])
            #expect(try connection.first(TableExists(name: "slow")) == true)
        }
    }

    @Test func changedAppliedFileIsRefused() throws {
        try withScratchDatabase { (connection: Connection) throws in
            let migrator = Migrator(connection: connection, checksum: checksum)
            _ = try migrator.migrate([MigrationFile(version: 1, name: "one", sql: "CREATE TABLE one (id int)")])
            let edited = [MigrationFile(version: 1, name: "one", sql: "CREATE TABLE one (id bigint)")]
            #expect {
                try migrator.migrate(edited)
            } throws: { error in
                guard case .checksumMismatch(let version, _, _, _) = error as? MigrationError else { return false }
                return version == 1 && String(describing: error).contains("never edit an applied migration")
            }
        }
    }

    @Test func failingFileIsRolledBackWhole() throws {
        try withScratchDatabase { (connection: Connection) throws in
            let migrator = Migrator(connection: connection, checksum: checksum)
            let files = [
                MigrationFile(version: 1, name: "good", sql: "CREATE TABLE good (id int)"),
                MigrationFile(version: 2, name: "bad", sql: "CREATE TABLE half (id int); SELECT no_such_function();"),
            ]
            #expect(throws: MigrationError.self) { try migrator.migrate(files) }
            #expect(try migrator.appliedVersions() == [1])
            #expect(try connection.first(TableExists(name: "half")) == false)
        }
    }

    @Test func databaseAheadOfTheCheckoutIsRefused() throws {
        try withScratchDatabase { (connection: Connection) throws in
            let migrator = Migrator(connection: connection, checksum: checksum)
            _ = try migrator.migrate([
                MigrationFile(version: 1, name: "one", sql: "SELECT 1"), MigrationFile(version: 2, name: "two", sql: "SELECT 2"),
            ])
            #expect(throws: MigrationError.self) {
                try migrator.migrate([MigrationFile(version: 1, name: "one", sql: "SELECT 1")])
            }
        }
    }

    @Test func repositoryMigrationsMatchTheBuildsSchemaVersion() throws {
        let files = try MigrationFile.load(directory: TestDatabase.migrationsDirectory)
        #expect(files.last?.version == Schema.version)
        #expect(files.map(\.version) == Array(1...files.count), "versions are consecutive from 1")
    }

    @Test func repositoryMigrationsApplyToAnEmptyDatabaseTwice() throws {
        try withScratchDatabase { (connection: Connection) throws in
            let files = try MigrationFile.load(directory: TestDatabase.migrationsDirectory)
            let migrator = Migrator(connection: connection, checksum: checksum)
            #expect(try migrator.migrate(files).count == files.count)
            #expect(try migrator.migrate(files).isEmpty)
        }
    }
}

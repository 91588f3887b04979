import ArgumentParser
import Domain
import OpenSSL
import Postgres
import Store

/// `switchyardctl migrate`: applies the pending files of `sql/migrations`, each in its own transaction.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending database migrations.",
        discussion: """
            Applies every file of the migrations directory that the database has not recorded, in version order, \
            each in one transaction, and records its SHA-256. Running it again does nothing. A recorded file \
            whose content changed is refused (exit 65): never edit an applied migration, add a new one.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "The directory of NNNN_name.sql files.")
    var dir = "sql/migrations"

    @Flag(name: .long, help: "Only list applied and pending versions.")
    var status = false

    func run() throws {
        let config = try loadConfiguration(global)
        let connection = openConnection(config)
        defer { connection.close() }
        let files: [MigrationFile]
        do {
            files = try MigrationFile.load(directory: dir)
        } catch {
            StandardError.write("switchyardctl migrate: \(error)")
            throw ExitCode(66)
        }
        let migrator = Migrator(connection: connection) { Hex.encode(SHA256.hash($0)) }
        do {
            if status {
                let applied = Set(try migrator.appliedVersions())
                for file in files {
                    print("\(applied.contains(file.version) ? "applied" : "pending") \(file.version) \(file.name)")
                }
                return
            }
            let applied = try migrator.migrate(files)
            print("switchyardctl migrate: applied=\(applied.count) total=\(files.count)")
        } catch let error as MigrationError {
            StandardError.write("switchyardctl migrate: \(error)")
            throw ExitCode(65)
        } catch let error as DatabaseError {
            StandardError.write("switchyardctl migrate: \(error.debugDescription)")
            throw ExitCode(error.isConnectionFailure ? 69 : 70)
        }
    }
}

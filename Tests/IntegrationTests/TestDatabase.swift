import Foundation
import Postgres
import Testing

/// The harness's database, as the superuser (for setting up scratch databases) and as the application role.
enum TestDatabase {
    static let environment = ProcessInfo.processInfo.environment
    static let url = environment["TEST_DATABASE_URL"]
    static let appURL = environment["TEST_APP_DATABASE_URL"]
    static var isAvailable: Bool { url != nil }

    /// A fresh superuser connection.
    static func superuser() -> Connection { Connection(conninfo: url!) }

    /// The URL of another database on the same server.
    static func url(database: String) -> String {
        url!.replacingOccurrences(of: "postgresql:///switchyard?", with: "postgresql:///\(database)?")
    }

    /// The directory of the migrations, from the package root.
    static var migrationsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("sql/migrations").path
    }
}

/// Fails the run when the database is required but absent, so a green run never means "tested nothing".
@Suite struct DatabasePresenceTests {
    @Test func databaseIsPresentWhenRequired() {
        if ProcessInfo.processInfo.environment["CI"] != nil || TestDatabase.environment["TEST_REQUIRE_STACK"] != nil {
            #expect(TestDatabase.isAvailable, "TEST_DATABASE_URL is not set: run through scripts/test")
        }
    }
}

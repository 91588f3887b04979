import Postgres
import Store
import Testing

private struct DeferNotifications: Statement {
    static let sql = "SELECT set_config('switchyard.defer_notify', 'on', false)"
    var binds: [PostgresValue] { [] }
}

private struct InsertCommandJob: Statement {
    static let sql = """
        INSERT INTO job (owner_id, name, kind, target, program)
        SELECT id, $1::text, 'command', '_any', '{}' FROM principal ORDER BY id LIMIT 1
        RETURNING id::text || ':' || owner_id::text
        """
    typealias Row = String
    let name: String
    var binds: [PostgresValue] { [.text(name)] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

private struct DeleteJobs: Statement {
    static let sql = "DELETE FROM job WHERE name LIKE 'notification-test-%'"
    var binds: [PostgresValue] { [] }
}

private struct Announce: Statement {
    static let sql = "SELECT job_announce()"
    typealias Row = Int64
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

private struct Rollback: Error {}

/// Job notifications: inside the transaction for ordinary sessions, after COMMIT for deferring ones (the
/// responders), and never for a change that rolled back.
@Suite(.enabled(if: TestDatabase.isAvailable), .serialized) struct JobNotificationTests {
    /// Every `job:owner` pair that arrives within `milliseconds`.
    func pairs(on listener: Connection, within milliseconds: Int32) throws -> [String] {
        try listener.waitForNotifications(timeoutMilliseconds: milliseconds)
            .filter { $0.channel == "job_changed" }
            .flatMap { $0.payload.split(separator: ",").map(String.init) }
    }

    @Test func deferringSessionsAnnounceCommittedChangesAfterCommit() throws {
        let listener = TestDatabase.superuser()
        try listener.listen("job_changed")
        let writer = TestDatabase.superuser()
        defer { _ = try? writer.execute(DeleteJobs()) }
        try writer.execute(DeferNotifications())

        let committed = try writer.transaction(synchronousCommit: true) {
            try #require(try writer.first(InsertCommandJob(name: "notification-test-committed")))
        }
        #expect(try !pairs(on: listener, within: 300).contains(committed), "nothing before job_announce()")
        #expect(try writer.first(Announce()) == 1)
        #expect(try pairs(on: listener, within: 2000).contains(committed))
        #expect(try writer.first(Announce()) == 0, "announced once")

        #expect(throws: Rollback.self) {
            try writer.transaction(synchronousCommit: true) {
                _ = try writer.first(InsertCommandJob(name: "notification-test-rolled-back"))
                throw Rollback()
            }
        }
        #expect(try writer.first(Announce()) == 0, "a rolled-back change is not announced")
    }

    @Test func theAnnouncementRidesWithTheCommit() throws {
        let listener = TestDatabase.superuser()
        try listener.listen("job_changed")
        let writer = TestDatabase.superuser()
        defer { _ = try? writer.execute(DeleteJobs()) }
        try writer.execute(DeferNotifications())
        var failures: [any Error] = []
        let committed = try writer.transaction(
            synchronousCommit: true, followedBy: JobStore.announcement, followUpFailed: { failures.append($0) }
        ) {
            try #require(try writer.first(InsertCommandJob(name: "notification-test-followed")))
        }
        #expect(failures.isEmpty)
        #expect(try pairs(on: listener, within: 2000).contains(committed))
        #expect(try writer.first(Announce()) == 0, "nothing left to announce")
    }

    @Test func otherSessionsNotifyInsideTheTransaction() throws {
        let listener = TestDatabase.superuser()
        try listener.listen("job_changed")
        let writer = TestDatabase.superuser()
        defer { _ = try? writer.execute(DeleteJobs()) }
        let committed = try writer.transaction {
            try #require(try writer.first(InsertCommandJob(name: "notification-test-immediate")))
        }
        #expect(try pairs(on: listener, within: 2000).contains(committed))
        #expect(try writer.first(Announce()) == 0)
    }
}

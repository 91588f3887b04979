import Postgres
import Store
import Testing

private struct InsertJob: Statement {
    static let sql = """
        INSERT INTO job (owner_id, name, kind, target, program)
        SELECT id, 'read-ahead-test', 'command', '_any', '{}' FROM principal ORDER BY id LIMIT 1
        RETURNING id, owner_id
        """
    typealias Row = (id: Int64, owner: Int64)
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Row { (try row.int(0), try row.int(1)) }
}

private struct DeleteJobs: Statement {
    static let sql = "DELETE FROM job WHERE name = 'read-ahead-test'"
    var binds: [PostgresValue] { [] }
}

private struct Nothing: Statement {
    static let sql = "SELECT 1"
    var binds: [PostgresValue] { [] }
}

/// A job read sent ahead, before the caller is known, must still answer only what the caller's own read would.
@Suite(.enabled(if: TestDatabase.isAvailable), .serialized) struct JobReadAheadTests {
    @Test func aReadAheadIsFilteredByOwnerWhenItIsUsed() throws {
        let connection = TestDatabase.superuser()
        defer { _ = try? connection.execute(DeleteJobs()) }
        let job = try #require(try connection.first(InsertJob()))
        let store = JobStore(connection: connection)
        let expected = try #require(try store.get(id: job.id, ownerFilter: job.owner))

        for (owner, visible) in [(job.owner, true), (job.owner + 1_000_000, false), (nil, true)] as [(Int64?, Bool)] {
            let ahead = JobStore.readAhead(id: job.id, withProgram: false)
            try connection.execute(Nothing(), readingAhead: ahead)
            let document = try store.get(id: job.id, ownerFilter: owner, ahead: ahead)
            #expect(document == (visible ? expected : nil), "owner filter \(String(describing: owner))")
        }
    }

    @Test func aReadAheadOfAnotherJobIsNotUsed() throws {
        let connection = TestDatabase.superuser()
        defer { _ = try? connection.execute(DeleteJobs()) }
        let job = try #require(try connection.first(InsertJob()))
        let store = JobStore(connection: connection)
        let ahead = JobStore.readAhead(id: job.id + 1_000_000, withProgram: false)
        try connection.execute(Nothing(), readingAhead: ahead)
        #expect(try store.get(id: job.id, ownerFilter: job.owner, ahead: ahead)?.json.contains("read-ahead-test") == true)
        let withProgram = JobStore.readAhead(id: job.id, withProgram: true)
        try connection.execute(Nothing(), readingAhead: withProgram)
        let plain = try store.get(id: job.id, ownerFilter: nil, withProgram: false, ahead: withProgram)
        #expect(plain?.json.contains("\"{}\"") == false, "a read with the program does not answer one without")
        #expect(try store.get(id: job.id, ownerFilter: nil, withProgram: true)?.json.contains("\"{}\"") == true)
    }
}

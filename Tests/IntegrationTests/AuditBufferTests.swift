@testable import API
import Domain
import Postgres
import Store
import Testing

private struct StoredAuditRows: Statement {
    static let sql = "SELECT count(*) FROM audit_log WHERE request_id = ANY($1::text[])"
    typealias Row = Int64
    let requestIDs: [String]
    var binds: [PostgresValue] { [.textArray(requestIDs)] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

/// The audit rows of reads and refusals (Sources/API/AuditBuffer.swift): kept through a database outage, one
/// refused row costing only itself, and what a stop with the database down does.
@Suite(.enabled(if: TestDatabase.isAvailable), .serialized) struct AuditBufferTests {
    let run = UInt32.random(in: 0...UInt32.max)

    func entry(_ name: String, status: Int = 200) -> AuditEntry {
        AuditEntry(
            at: SystemClock.now(), requestID: "audit-buffer-\(run)-\(name)", event: "request", principalID: nil,
            principalName: nil, credentialKind: nil, keyPrefix: nil, method: "GET", route: "/api/v1/me",
            status: status, latencyMicroseconds: 10, clientAddress: "127.0.0.1", userAgent: "AuditBufferTests",
            detail: .object([]))
    }

    func stored(_ names: [String]) throws -> Int64 {
        try TestDatabase.superuser().first(StoredAuditRows(requestIDs: names.map { "audit-buffer-\(run)-\($0)" })) ?? -1
    }

    /// A session that can never open: no server listens on that socket directory.
    func unreachable() -> Connection {
        Connection(conninfo: "postgresql:///switchyard?host=/nonexistent-switchyard-test&connect_timeout=1")
    }

    func reachable() -> Connection { Connection(conninfo: TestDatabase.appURL ?? TestDatabase.url!) }

    @Test func rowsAreKeptWhileTheDatabaseIsUnreachable() throws {
        let buffer = AuditBuffer(retryIntervalNanoseconds: 0)
        let names = ["outage-1", "outage-2", "outage-3"]
        for name in names { buffer.append(entry(name), connection: unreachable()) }
        #expect(!buffer.flush(connection: unreachable()))
        #expect(buffer.count == 3, "nothing dropped")
        #expect(buffer.flush(connection: reachable()))
        #expect(try stored(names) == 3)
    }

    @Test func anOutageWaitsBeforeTheNextAttempt() throws {
        let buffer = AuditBuffer(retryIntervalNanoseconds: 3_600_000_000_000)
        buffer.append(entry("backoff"), connection: unreachable())
        #expect(!buffer.flush(connection: unreachable()))
        #expect(!buffer.flush(connection: reachable()), "not tried again within the retry interval")
        #expect(try stored(["backoff"]) == 0)
    }

    @Test func aRefusedRowCostsOnlyItself() throws {
        let buffer = AuditBuffer(retryIntervalNanoseconds: 0)
        // A status beyond `smallint`: the database refuses this row, and so the whole batch's statement.
        let rows = [entry("fine-1"), entry("refused", status: 70_000), entry("fine-2")]
        for row in rows { buffer.append(row, connection: unreachable()) }
        #expect(buffer.flush(connection: reachable()))
        #expect(try stored(["fine-1", "fine-2"]) == 2)
        #expect(try stored(["refused"]) == 0)
        #expect(buffer.count == 0, "the refused row was reported, not kept")
    }

    /// An error that is no row's fault (here: a session that may not write) keeps every row for a later attempt.
    @Test func aFailureOfTheDatabaseKeepsTheRows() throws {
        let buffer = AuditBuffer(retryIntervalNanoseconds: 0)
        let names = ["read-only-1", "read-only-2"]
        for name in names { buffer.append(entry(name), connection: unreachable()) }
        let readOnly = Connection(
            conninfo: (TestDatabase.appURL ?? TestDatabase.url!) + "&options=-c%20default_transaction_read_only%3Don")
        #expect(!buffer.flush(connection: readOnly))
        #expect(buffer.count == 2, "kept, not written one by one and reported")
        #expect(buffer.flush(connection: reachable()))
        #expect(try stored(names) == 2)
    }

    @Test func aStopWithTheDatabaseDownReportsWhatItCouldNotWrite() throws {
        let buffer = AuditBuffer(retryIntervalNanoseconds: 0, exitPatienceNanoseconds: 300_000_000)
        for name in ["stop-1", "stop-2"] { buffer.append(entry(name), connection: unreachable()) }
        #expect(buffer.flushBeforeExit(connection: unreachable()) == 2)
        #expect(buffer.count == 0)
        #expect(buffer.flushBeforeExit(connection: reachable()) == 0)
    }

    @Test func anOutageKeepsAtMostTheBound() throws {
        let buffer = AuditBuffer(retryIntervalNanoseconds: 3_600_000_000_000)
        let dead = unreachable()
        for index in 0..<(AuditBuffer.maximumKept + 5) { buffer.append(entry("bound-\(index)"), connection: dead) }
        #expect(buffer.count == AuditBuffer.maximumKept, "the oldest five were reported and let go")
    }
}

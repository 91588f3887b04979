import Domain
import Jobs
import OpenSSL
import Postgres
import Store
import Testing

private struct CreateScratch: Statement {
    static let sql = "CREATE DATABASE switchyard_audit_test"
    var binds: [PostgresValue] { [] }
}

private struct DropScratch: Statement {
    static let sql = "DROP DATABASE IF EXISTS switchyard_audit_test WITH (FORCE)"
    var binds: [PostgresValue] { [] }
}

/// Tampering as only a superuser could do it: with the guard trigger switched off for the session.
private struct TamperUpdate: Statement {
    static let sql = """
        WITH off AS (SELECT set_config('session_replication_role', 'replica', false))
        UPDATE audit_log SET status = 299 FROM off WHERE seq = $1::bigint
        """
    let seq: Int64
    var binds: [PostgresValue] { [.int(seq)] }
}

private struct TamperRestore: Statement {
    static let sql = "UPDATE audit_log SET status = 200 WHERE seq = $1::bigint"
    let seq: Int64
    var binds: [PostgresValue] { [.int(seq)] }
}

private struct TamperDelete: Statement {
    static let sql = "DELETE FROM audit_log WHERE seq = $1::bigint"
    let seq: Int64
    var binds: [PostgresValue] { [.int(seq)] }
}

private struct ReplicaRole: Statement {
    static let sql = "SELECT set_config('session_replication_role', 'replica', false)"
    var binds: [PostgresValue] { [] }
}

private struct StoredRows: Statement {
    static let sql = """
        SELECT (extract(epoch FROM at) * 1000000)::bigint, request_id, principal_name, detail::text
        FROM audit_log ORDER BY id
        """
    var binds: [PostgresValue] { [] }
    typealias Row = (atMicroseconds: Int64, requestID: String, principalName: String?, detail: String)
    static func decode(_ row: ResultRow) throws -> Row {
        (try row.int(0), try row.string(1), row.optionalString(2), try row.string(3))
    }
}

/// The hash chain on a scratch database: sealing, a clean verification, and each kind of tampering caught.
@Suite(.enabled(if: TestDatabase.isAvailable), .serialized) struct AuditChainTests {
    func withSealedTrail(rows: Int, _ body: (Connection, AuditChain) throws -> Void) throws {
        let admin = TestDatabase.superuser()
        try admin.execute(DropScratch())
        try admin.execute(CreateScratch())
        defer { _ = try? admin.execute(DropScratch()) }
        let connection = Connection(conninfo: TestDatabase.url(database: "switchyard_audit_test"))
        defer { connection.close() }
        _ = try Migrator(connection: connection) { Hex.encode(SHA256.hash($0)) }
            .migrate(try MigrationFile.load(directory: TestDatabase.migrationsDirectory))
        let store = AuditStore(connection: connection)
        // Batches of three, as the responders write rows after their responses.
        let entries = (0..<rows).map { (index: Int) -> AuditEntry in
            let event = index % 3 == 0 ? "auth.failure" : "request"
            let principalName: String? = index % 2 == 0 ? "alice" : nil
            return AuditEntry(
                at: Self.firstRowTime.adding(seconds: Int64(index)), requestID: "r\(index)",
                event: event, principalID: nil, principalName: principalName, credentialKind: "api_key", keyPrefix: "sy_abcdefghi",
                method: "GET", route: "/api/v1/me", status: 200, latencyMicroseconds: Int64(index),
                clientAddress: "127.0.0.1", userAgent: "tests | with \"quotes\" and 9:colons",
                detail: .object([("n", .int(Int64(index)))]))
        }
        for start in stride(from: 0, to: rows, by: 3) {
            try store.insert(Array(entries[start..<min(start + 3, rows)]))
        }
        let chain = AuditChain(connection: connection)
        #expect(try chain.sealAll(batch: 7) == rows)
        try body(connection, chain)
    }

    static let firstRowTime = Timestamp(microseconds: 1_795_000_000_123_456)

    @Test func batchedRowsKeepTheirOwnTimeOrderAndFields() throws {
        try withSealedTrail(rows: 7) { connection, _ in
            let rows = try connection.rows(StoredRows())
            #expect(rows.count == 7)
            for (index, row) in rows.enumerated() {
                #expect(row.atMicroseconds == Self.firstRowTime.microseconds + Int64(index) * 1_000_000)
                #expect(row.requestID == "r\(index)")
                #expect(row.principalName == (index % 2 == 0 ? "alice" : nil))
                #expect(row.detail == #"{"n": \#(index)}"#)
            }
        }
    }

    @Test func sealedChainVerifies() throws {
        try withSealedTrail(rows: 20) { _, chain in
            let report = try chain.verify(pageSize: 6)
            #expect(report.firstBreak == nil)
            #expect(report.checked == 20)
            #expect(report.headSeq == 20)
            #expect(report.unsealed == 0)
            #expect(try chain.verify(expectedHead: (20, report.headHash)).firstBreak == nil)
        }
    }

    @Test func editedRowIsCaught() throws {
        try withSealedTrail(rows: 12) { connection, chain in
            try connection.execute(TamperUpdate(seq: 5))
            let report = try chain.verify()
            #expect(report.firstBreak?.contains("row seq 5") == true)
            #expect(report.firstBreak?.contains("altered") == true)
            #expect(report.checked == 4)
            try connection.execute(TamperRestore(seq: 5))
            #expect(try chain.verify().firstBreak == nil, "restoring the content restores the chain")
        }
    }

    @Test func deletedRowIsCaught() throws {
        try withSealedTrail(rows: 12) { connection, chain in
            try connection.execute(ReplicaRole())
            try connection.execute(TamperDelete(seq: 7))
            let report = try chain.verify()
            #expect(report.firstBreak?.contains("row seq 7 is missing") == true)
        }
    }

    /// Retention: rows up to an archived one are deleted; the rest verifies from the archived row's link.
    @Test func anArchivedPrefixVerifiesFromItsLastLink() throws {
        try withSealedTrail(rows: 12) { connection, chain in
            // The link of row 4, as an operator records it when archiving rows 1 to 4.
            let rowFour = try #require(try AuditStore(connection: connection).chainPage(afterSeq: 3, limit: 1).first)
            try connection.execute(ReplicaRole())
            for seq in 1...4 { try connection.execute(TamperDelete(seq: Int64(seq))) }
            #expect(try chain.verify().firstBreak?.contains("row seq 1 is missing") == true)
            let report = try chain.verify(startingAfter: (4, rowFour.hash))
            #expect(report.firstBreak == nil)
            #expect(report.checked == 8)
            #expect(report.headSeq == 12)
            let wrong = try chain.verify(startingAfter: (4, [UInt8](repeating: 7, count: 32)))
            #expect(wrong.firstBreak?.contains("row seq 5") == true, "a wrong recorded link is caught")
        }
    }

    @Test func truncatedTailIsCaughtAgainstARecordedHead() throws {
        try withSealedTrail(rows: 10) { connection, chain in
            let head = try chain.verify()
            try connection.execute(ReplicaRole())
            try connection.execute(TamperDelete(seq: 10))
            #expect(try chain.verify().firstBreak == nil, "without a recorded head a shorter chain still links")
            let checked = try chain.verify(expectedHead: (head.headSeq, head.headHash))
            #expect(checked.firstBreak?.contains("removed from the end") == true)
        }
    }

    @Test func guardTriggerRefusesChangesToSealedRows() throws {
        try withSealedTrail(rows: 3) { connection, _ in
            #expect {
                try connection.execute(TamperRestore(seq: 1))
            } throws: { error in
                (error as? DatabaseError)?.sqlState == .insufficientPrivilege
            }
        }
    }
}

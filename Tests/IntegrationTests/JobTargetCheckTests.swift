import Domain
import Postgres
import Testing

private struct InsertJobForTarget: Statement {
    static let sql = """
        INSERT INTO job (owner_id, name, kind, target, program)
        SELECT id, 'target-check', 'command', $1::text, '{}' FROM principal ORDER BY id LIMIT 1
        RETURNING id
        """
    typealias Row = Int64
    let target: String
    var binds: [PostgresValue] { [.text(target)] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

private struct RolledBack: Error {}

/// The table's backstop for a job's target (`job_target_format`, 0021) accepts exactly what the API's `JobTarget`
/// accepts, at the edges of each form.
@Suite(.enabled(if: TestDatabase.isAvailable)) struct JobTargetCheckTests {
    static let targets: [String] = [
        "_any", "sim-statevector", "a", "0", String(repeating: "a", count: 63), String(repeating: "a", count: 64),
        "group:a", "group:gpu.a100_x-2", "group:" + String(repeating: "b", count: 63),
        "group:" + String(repeating: "b", count: 64), "", "group:", "group:-a", "group:_a", "group:A", "group:a:b",
        "-a", "a_b", "a.b", "Sim", "_anyx", "_ANY", "any", "a b", "é", "sim-statevector\n", "group:a\n",
        String(repeating: "a", count: 62) + "-", "group:" + String(repeating: "b", count: 62) + ".",
    ]

    /// Whether the table takes a job with this target (the insert is rolled back).
    static func tableAccepts(_ target: String, connection: Connection) throws -> Bool {
        do {
            try connection.transaction {
                _ = try connection.first(InsertJobForTarget(target: target))
                throw RolledBack()
            }
        } catch is RolledBack {
            return true
        } catch let error as DatabaseError where error.sqlState ~= .checkViolation {
            #expect(error.constraint == "job_target_format", "\(target.debugDescription): \(error.message)")
            return false
        }
        Issue.record("the insert neither failed nor was rolled back")
        return false
    }

    @Test func theTableAcceptsWhatTheAPIAccepts() throws {
        let connection = TestDatabase.superuser()
        var accepted = 0
        for target in Self.targets {
            let api = JobTarget(target) != nil
            #expect(try Self.tableAccepts(target, connection: connection) == api, "\(target.debugDescription)")
            if api { accepted += 1 }
        }
        #expect(accepted == 11)
        #expect(Self.targets.count - accepted == 18)
    }
}

import Domain
import Postgres
import Testing

private struct EnumValues: Statement {
    static let sql = "SELECT enum_range(NULL::job_state)::text[]"
    typealias Row = [String]
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> [String] { try row.stringArray(0) }
}

private struct TransitionAllowed: Statement {
    static let sql = "SELECT job_transition_allowed($1::job_state, $2::job_state)"
    typealias Row = Bool
    let from: JobState
    let to: JobState
    var binds: [PostgresValue] { [.text(from.rawValue), .text(to.rawValue)] }
    static func decode(_ row: ResultRow) throws -> Bool { try row.bool(0) }
}

/// The Swift mirror of the job state machine agrees with the database's, state by state and step by step.
@Suite(.enabled(if: TestDatabase.isAvailable)) struct JobStateMachineTests {
    @Test func swiftStatesAreTheDatabaseEnum() throws {
        let values = try TestDatabase.superuser().first(EnumValues())
        #expect(values == JobState.allCases.map(\.rawValue))
    }

    @Test func everyTransitionAgreesWithTheDatabase() throws {
        let connection = TestDatabase.superuser()
        for from in JobState.allCases {
            for to in JobState.allCases where from != to {
                let allowed = try connection.first(TransitionAllowed(from: from, to: to))
                #expect(allowed == from.canMove(to: to), "\(from) → \(to)")
            }
        }
    }
}

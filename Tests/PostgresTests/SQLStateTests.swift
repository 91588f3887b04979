import Testing

@testable import Postgres

@Suite struct SQLStateTests {
    @Test func classPatternMatchesEveryCodeOfItsClass() {
        #expect(SQLState.connectionException ~= SQLState("08006"))
        #expect(SQLState.connectionException ~= SQLState("08001"))
        #expect(!(SQLState.connectionException ~= SQLState("23505")))
    }

    @Test func codePatternMatchesOnlyItself() {
        #expect(SQLState.uniqueViolation ~= SQLState("23505"))
        #expect(!(SQLState.uniqueViolation ~= SQLState("23503")))
    }

    @Test func switchesClassifyByClass() {
        func classify(_ state: SQLState) -> String {
            switch state {
            case .uniqueViolation: "unique"
            case .integrityConstraintViolation: "integrity"
            case .connectionException: "connection"
            default: "other"
            }
        }
        #expect(classify(SQLState("23505")) == "unique")
        #expect(classify(SQLState("23514")) == "integrity")
        #expect(classify(SQLState("08003")) == "connection")
        #expect(classify(SQLState("42P01")) == "other")
    }

    @Test func connectionFailuresAreRecognized() {
        #expect(DatabaseError(sqlState: SQLState("08006"), message: "x").isConnectionFailure)
        #expect(DatabaseError(sqlState: .adminShutdown, message: "x").isConnectionFailure)
        #expect(!DatabaseError(sqlState: .uniqueViolation, message: "x").isConnectionFailure)
    }

    @Test func descriptionNeverCarriesServerText() {
        let error = DatabaseError(sqlState: .uniqueViolation, message: "Key (email)=(alice@example.com) exists")
        #expect(!error.description.contains("alice"))
        #expect(error.debugDescription.contains("alice"))
    }
}

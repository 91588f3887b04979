import Domain
import Postgres
import Web

extension Problem {
    /// Maps a database failure to what the client sees, by SQLSTATE class; never copies the server's text.
    ///
    /// Constraint violations that reach this point were not anticipated by a handler (handlers turn the ones they
    /// expect into field errors or conflicts with specific wording), so they get a generic sentence.
    public init(_ error: DatabaseError) {
        switch error.sqlState {
        case .uniqueViolation, .foreignKeyViolation, .exclusionViolation:
            self = .conflict("The change conflicts with existing data.")
        case .checkViolation, .notNullViolation:
            self = Problem(.validation, detail: "The request breaks a rule of the data model.")
        case .queryCanceled:
            self = Problem(.timeout, detail: "The database did not answer in time.")
        case .connectionException, .insufficientResources, .adminShutdown, .crashShutdown, .cannotConnectNow,
            .serializationFailure, .deadlockDetected:
            self = .unavailable("The database is unavailable; try again shortly.")
        case .dataException:
            self = Problem(.badRequest, detail: "A value is out of range or malformed.")
        case SQLState("PT404"):
            self = .notFound()
        case SQLState("PT409"):
            // Raised by the job state machine's trigger; its detail is the job's current state, one of our enum's
            // values, not server text.
            self = .conflict(
                "The job's current state does not allow this change.",
                extensions: error.detail.map { [("current_state", .string($0))] } ?? [])
        default:
            self = .internalError
        }
    }
}

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
            if let constraint = error.constraint, let rule = Self.fieldRules[constraint] {
                errors = [FieldError(field: rule.field, message: rule.message)]
            }
        case .transactionResolutionUnknown:
            // Not "try again": the change may have been made, and a blind retry would make it twice.
            self = Problem(
                .internalError,
                detail: "The connection to the database broke while the change was being committed, so it may or "
                    + "may not have been made. Check before trying again (a job submit with an Idempotency-Key is safe to retry).")
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

    /// The table constraints that guard a request field, by name: the last line of validation, reached when the
    /// API's own check let through what the table refuses (PostgreSQL renders `1e300` in full, for one), so that
    /// the 400 still names the field.
    static let fieldRules: [String: (field: String, message: String)] = [
        "job_name_length": ("name", "must be 1 to 100 characters"),
        "job_name_characters": ("name", "must not contain control characters or < > \" '"),
        "job_target_format": ("target", "is neither a device id nor a selector (_any, group:LABEL)"),
        "job_program_size": ("program", "must be at most 10 MB"),
        "job_shots_by_kind": ("shots", "must be 1 to 100000 for a circuit and absent for a command"),
        "job_priority_range": ("priority", "must be 1 to 100"),
        "job_max_duration_range": ("max_duration_s", "must be 1 to 604800"),
        "job_metadata_object": ("metadata", "must be a JSON object of at most 64 KB as stored"),
    ]
}

/// A five-character SQLSTATE code from the server, as PostgreSQL's Appendix A lists them.
///
/// Errors are classified by code, never by message text: a `switch` over `SQLState` with
/// class patterns such as `.connectionException` (class 08) matches every code of that class.
public struct SQLState: Hashable, Sendable, CustomStringConvertible {
    /// The five characters, e.g. `23505`.
    public let code: String
    /// True when this value stands for a whole class (the first two characters) rather than one code.
    public let isClass: Bool

    /// A single code such as `SQLState("23505")`.
    public init(_ code: String) {
        self.code = code
        self.isClass = false
    }

    /// A whole class such as `SQLState(class: "08")`, matching every code that starts with it.
    public init(class prefix: String) {
        self.code = prefix
        self.isClass = true
    }

    public var description: String { code }

    /// Pattern match: a class matches every code in it, a code matches itself.
    public static func ~= (pattern: SQLState, value: SQLState) -> Bool {
        pattern.isClass ? value.code.hasPrefix(pattern.code) : pattern.code == value.code
    }

    public static let uniqueViolation = SQLState("23505")
    public static let foreignKeyViolation = SQLState("23503")
    public static let checkViolation = SQLState("23514")
    public static let notNullViolation = SQLState("23502")
    public static let exclusionViolation = SQLState("23P01")
    public static let integrityConstraintViolation = SQLState(class: "23")
    public static let dataException = SQLState(class: "22")
    public static let operatorIntervention = SQLState(class: "57")
    public static let objectNotInPrerequisiteState = SQLState(class: "55")
    public static let queryCanceled = SQLState("57014")
    public static let lockNotAvailable = SQLState("55P03")
    public static let adminShutdown = SQLState("57P01")
    public static let crashShutdown = SQLState("57P02")
    public static let cannotConnectNow = SQLState("57P03")
    public static let connectionException = SQLState(class: "08")
    public static let connectionFailure = SQLState("08006")
    /// The connection broke while a COMMIT was on its way: the transaction may or may not have committed.
    public static let transactionResolutionUnknown = SQLState("08007")
    public static let insufficientResources = SQLState(class: "53")
    public static let serializationFailure = SQLState("40001")
    public static let deadlockDetected = SQLState("40P01")
    public static let insufficientPrivilege = SQLState("42501")
    public static let undefinedTable = SQLState("42P01")
}

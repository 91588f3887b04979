/// A failure reported by libpq or the server, with the server's SQLSTATE and diagnostic fields.
///
/// `description` is deliberately generic so that server text never leaks into a client response or a
/// log line by accident; `debugDescription` has everything and is for stderr only.
public struct DatabaseError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The SQLSTATE; connection failures that libpq detects itself are reported as `08006`.
    public let sqlState: SQLState
    /// The server's primary message (may contain data values: never send it to clients).
    public let message: String
    public let detail: String?
    public let hint: String?
    /// The violated constraint's name, which the schema chooses so that it says which rule failed.
    public let constraint: String?
    public let table: String?
    public let column: String?

    public init(
        sqlState: SQLState, message: String, detail: String? = nil, hint: String? = nil,
        constraint: String? = nil, table: String? = nil, column: String? = nil
    ) {
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
    }

    /// True when the connection itself is gone or the server is shutting down or starting up.
    public var isConnectionFailure: Bool {
        switch sqlState {
        case .connectionException, .adminShutdown, .crashShutdown, .cannotConnectNow: true
        default: false
        }
    }

    public var description: String { "database error \(sqlState)" }

    public var debugDescription: String {
        var text = "database error \(sqlState): \(message)"
        if let detail { text += " detail=\(detail)" }
        if let constraint { text += " constraint=\(constraint)" }
        if let table { text += " table=\(table)" }
        return text
    }
}

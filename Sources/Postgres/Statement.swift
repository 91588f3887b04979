/// One SQL statement with `$n` placeholders, its parameters and how to decode one row of its result.
///
/// A connection prepares each statement type once (`PQprepare`) and afterwards only sends the parameters,
/// after PostgresNIO's `PostgresPreparedStatement`. The SQL text is a `static let`, so it can never contain
/// request data: values reach the server only through `binds`.
public protocol Statement {
    /// The decoded form of one result row.
    associatedtype Row = Void
    /// The SQL text with `$1 … $n` placeholders.
    static var sql: String { get }
    /// The parameters, in placeholder order.
    var binds: [PostgresValue] { get }
    /// Decodes one result row.
    static func decode(_ row: ResultRow) throws -> Row
}

extension Statement where Row == Void {
    public static func decode(_ row: ResultRow) throws {}
}

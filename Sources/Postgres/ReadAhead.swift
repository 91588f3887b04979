/// A read sent in the round trip of another statement, before anyone knows whether its result will be wanted, and
/// that result once the round trip came back (see `Connection.execute(_:readingAhead:)`).
///
/// Whoever reads the result checks with `result(of:)` that it is the read they would have sent themselves.
public final class ReadAhead {
    let key: ObjectIdentifier
    let sql: String
    let binds: [PostgresValue]
    var result: QueryResult?

    public init<S: Statement>(_ statement: S) {
        key = ObjectIdentifier(S.self)
        sql = S.sql
        binds = statement.binds
    }

    /// The result, when this read was sent and is exactly `statement`; nil otherwise.
    public func result<S: Statement>(of statement: S) -> QueryResult? {
        guard key == ObjectIdentifier(S.self), binds == statement.binds else { return nil }
        return result
    }
}

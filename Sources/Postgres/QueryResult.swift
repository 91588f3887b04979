import CLibPQ

/// The rows of one statement's result, read in PostgreSQL's text format.
///
/// Owns the `PGresult` and frees it when released; rows are views into it, so they must not outlive it.
public final class QueryResult {
    let handle: OpaquePointer?

    init(handle: OpaquePointer?) {
        self.handle = handle
    }

    deinit {
        PQclear(handle)
    }

    /// Number of rows returned.
    public var rowCount: Int { handle.map { Int(PQntuples($0)) } ?? 0 }

    /// Number of rows an INSERT, UPDATE or DELETE touched.
    public var affectedRows: Int {
        guard let handle, let text = PQcmdTuples(handle) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    /// The row at `index`.
    public subscript(index: Int) -> ResultRow {
        ResultRow(result: self, index: Int32(index))
    }

    /// All rows, in order.
    public var rows: [ResultRow] {
        (0..<rowCount).map { self[$0] }
    }
}

/// One row of a `QueryResult`, decoded column by column with typed accessors.
public struct ResultRow {
    let result: QueryResult
    let index: Int32

    /// True when the column holds SQL NULL.
    public func isNull(_ column: Int) -> Bool {
        PQgetisnull(result.handle, index, Int32(column)) == 1
    }

    /// The column as text, or nil for NULL.
    public func optionalString(_ column: Int) -> String? {
        if isNull(column) { return nil }
        guard let value = PQgetvalue(result.handle, index, Int32(column)) else { return nil }
        return String(cString: value)
    }

    /// The column as text; NULL is a decoding error.
    public func string(_ column: Int) throws -> String {
        guard let value = optionalString(column) else { throw decodingError(column, "text") }
        return value
    }

    /// The column as a 64-bit integer, or nil for NULL.
    public func optionalInt(_ column: Int) throws -> Int64? {
        guard let text = optionalString(column) else { return nil }
        guard let value = Int64(text) else { throw decodingError(column, "bigint") }
        return value
    }

    /// The column as a 64-bit integer.
    public func int(_ column: Int) throws -> Int64 {
        guard let value = try optionalInt(column) else { throw decodingError(column, "bigint") }
        return value
    }

    /// The column as a double, or nil for NULL.
    public func optionalDouble(_ column: Int) throws -> Double? {
        guard let text = optionalString(column) else { return nil }
        guard let value = Double(text) else { throw decodingError(column, "double precision") }
        return value
    }

    /// The column as a double.
    public func double(_ column: Int) throws -> Double {
        guard let value = try optionalDouble(column) else { throw decodingError(column, "double precision") }
        return value
    }

    /// The column as a boolean (`t`/`f` in text format).
    public func bool(_ column: Int) throws -> Bool {
        switch optionalString(column) {
        case "t": return true
        case "f": return false
        default: throw decodingError(column, "boolean")
        }
    }

    /// A `bytea` column (hex text format `\x…`), or nil for NULL.
    public func optionalBytes(_ column: Int) throws -> [UInt8]? {
        guard let text = optionalString(column) else { return nil }
        guard let bytes = Self.decodeByteaHex(text) else { throw decodingError(column, "bytea") }
        return bytes
    }

    /// A `bytea` column.
    public func bytes(_ column: Int) throws -> [UInt8] {
        guard let value = try optionalBytes(column) else { throw decodingError(column, "bytea") }
        return value
    }

    /// A `text[]` column, or nil for NULL. Handles quoting and backslash escapes of array literals.
    public func optionalStringArray(_ column: Int) throws -> [String]? {
        guard let text = optionalString(column) else { return nil }
        guard let values = Self.decodeTextArray(text) else { throw decodingError(column, "text[]") }
        return values
    }

    /// A `text[]` column.
    public func stringArray(_ column: Int) throws -> [String] {
        guard let value = try optionalStringArray(column) else { throw decodingError(column, "text[]") }
        return value
    }

    private func decodingError(_ column: Int, _ type: String) -> DatabaseError {
        let name = PQfname(result.handle, Int32(column)).map { String(cString: $0) } ?? "#\(column)"
        return DatabaseError(sqlState: SQLState("22000"), message: "column \(name) is not a valid \(type)")
    }

    static func decodeByteaHex(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else {
            return nil
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity((utf8.count - 2) / 2)
        var index = 2
        while index < utf8.count {
            guard let high = hexValue(utf8[index]), let low = hexValue(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Parses a one-dimensional array literal such as `{a,"b c",NULL}`; NULL elements are refused.
    static func decodeTextArray(_ text: String) -> [String]? {
        // By bytes: the array syntax is ASCII, so no delimiter can be part of a multi-byte character.
        let bytes = Array(text.utf8)
        let (open, close, quote, backslash, comma) = (
            UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: ","))
        guard bytes.count >= 2, bytes[0] == open, bytes[bytes.count - 1] == close else { return nil }
        var values: [String] = []
        var index = 1
        let end = bytes.count - 1
        while index < end {
            if bytes[index] == quote {
                index += 1
                var element: [UInt8] = []
                while index < end, bytes[index] != quote {
                    if bytes[index] == backslash { index += 1 }
                    guard index < end else { return nil }
                    element.append(bytes[index])
                    index += 1
                }
                guard index < end else { return nil }
                index += 1
                values.append(String(decoding: element, as: UTF8.self))
            } else {
                let start = index
                while index < end, bytes[index] != comma { index += 1 }
                let element = bytes[start..<index]
                if element.elementsEqual("NULL".utf8) { return nil }
                values.append(String(decoding: element, as: UTF8.self))
            }
            if index < end {
                guard bytes[index] == comma else { return nil }
                index += 1
            }
        }
        return values
    }
}

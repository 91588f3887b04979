/// A value bound to a `$n` parameter. Values only ever reach SQL this way.
///
/// Everything but `bytes` travels in PostgreSQL's text format, so the statement's SQL states the type
/// with a cast (`$1::bigint`); `bytes` travels in binary format, so hashes are sent without hex encoding.
public enum PostgresValue: Sendable, Equatable {
    case text(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case bytes([UInt8])
    case null

    /// `.null` for nil, otherwise the text value.
    public static func text(_ value: String?) -> PostgresValue { value.map(PostgresValue.text) ?? .null }
    /// `.null` for nil, otherwise the integer value.
    public static func int(_ value: Int64?) -> PostgresValue { value.map(PostgresValue.int) ?? .null }
    /// `.null` for nil, otherwise the integer value.
    public static func int(_ value: Int?) -> PostgresValue { value.map { .int(Int64($0)) } ?? .null }
    /// `.null` for nil, otherwise the boolean value.
    public static func bool(_ value: Bool?) -> PostgresValue { value.map(PostgresValue.bool) ?? .null }
    /// `.null` for nil, otherwise the floating-point value.
    public static func double(_ value: Double?) -> PostgresValue { value.map(PostgresValue.double) ?? .null }

    /// A text[] literal for `$n::text[]`, quoted element by element.
    public static func textArray(_ values: [String]) -> PostgresValue {
        let quoted = values.map { value -> String in
            var escaped = "\""
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { escaped.unicodeScalars.append("\\") }
                escaped.unicodeScalars.append(character)
            }
            return escaped + "\""
        }
        return .text("{" + quoted.joined(separator: ",") + "}")
    }

    /// A bigint[] literal for `$n::bigint[]`.
    public static func intArray(_ values: [Int64]) -> PostgresValue {
        .text("{" + values.map(String.init).joined(separator: ",") + "}")
    }

    /// The bytes libpq sends and whether they are binary (format 1).
    var wireBytes: (bytes: [UInt8], isBinary: Bool)? {
        switch self {
        case .text(let value): (Array(value.utf8), false)
        case .int(let value): (Array(String(value).utf8), false)
        case .double(let value): (Array(String(value).utf8), false)
        case .bool(let value): (value ? [0x74] : [0x66], false)
        case .bytes(let value): (value, true)
        case .null: nil
        }
    }
}

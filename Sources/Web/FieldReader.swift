import Domain

extension Request {
    /// The body as a JSON object: 415 unless the content type is JSON, 400 (with line and column) when it does not
    /// parse or is not an object.
    public func jsonObject() throws -> JSON {
        guard let type = mediaType, type == "application/json" || type.hasSuffix("+json") else {
            throw Problem(.unsupportedMediaType, detail: "Send the body as application/json.")
        }
        if let charset = mediaTypeParameter("charset"), !["utf-8", "utf8"].contains(charset.lowercased()) {
            throw Problem(.unsupportedMediaType, detail: "Send the body as UTF-8 (charset=utf-8 or none).")
        }
        let value: JSON
        do {
            value = try JSON.parse(body)
        } catch {
            throw Problem(.badRequest, detail: "The body is not valid JSON: \(error.description).")
        }
        guard value.objectValue != nil else { throw Problem(.badRequest, detail: "The body must be a JSON object.") }
        return value
    }
}

/// Reads the fields of a JSON object body, collecting every problem so that a client learns all of them at once.
///
/// Unknown members are errors too: a misspelt optional field must not be ignored silently.
public struct FieldReader {
    private let members: [(String, JSON)]
    private var known: Set<String> = []
    /// Problems found so far.
    public private(set) var errors: [FieldError] = []

    public init(_ object: JSON) {
        members = object.objectValue ?? []
    }

    private mutating func value(_ name: String) -> JSON? {
        known.insert(name)
        guard let value = members.last(where: { $0.0 == name })?.1, value != .null else { return nil }
        return value
    }

    /// Records a problem with a field.
    public mutating func fail(_ name: String, _ message: String) {
        errors.append(FieldError(field: name, message: message))
    }

    /// A string field; `validate` returns a message when the value is not acceptable.
    public mutating func string(_ name: String, required: Bool = false, validate: (String) -> String? = { _ in nil })
        -> String?
    {
        guard let value = value(name) else {
            if required { fail(name, "is required") }
            return nil
        }
        guard let text = value.stringValue else {
            fail(name, "must be a string")
            return nil
        }
        if let message = validate(text) {
            fail(name, message)
            return nil
        }
        return text
    }

    /// An integer field within `range`.
    public mutating func int(_ name: String, required: Bool = false, range: ClosedRange<Int64>) -> Int64? {
        guard let value = value(name) else {
            if required { fail(name, "is required") }
            return nil
        }
        guard case .int(let number) = value else {
            fail(name, "must be a whole number")
            return nil
        }
        guard range.contains(number) else {
            fail(name, "must be from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return number
    }

    /// A boolean field.
    public mutating func bool(_ name: String) -> Bool? {
        guard let value = value(name) else { return nil }
        guard let flag = value.boolValue else {
            fail(name, "must be true or false")
            return nil
        }
        return flag
    }

    /// A list of strings, each checked by `validate`.
    public mutating func stringList(
        _ name: String, required: Bool = false, maxCount: Int = 100, validate: (String) -> String? = { _ in nil }
    ) -> [String]? {
        guard let value = value(name) else {
            if required { fail(name, "is required") }
            return nil
        }
        guard let list = value.arrayValue else {
            fail(name, "must be a list of strings")
            return nil
        }
        guard list.count <= maxCount else {
            fail(name, "must have at most \(maxCount) entries")
            return nil
        }
        var strings: [String] = []
        for element in list {
            guard let text = element.stringValue else {
                fail(name, "must be a list of strings")
                return nil
            }
            if let message = validate(text) {
                fail(name, "'\(text)' \(message)")
                return nil
            }
            strings.append(text)
        }
        return strings
    }

    /// A timestamp field in RFC 3339.
    public mutating func timestamp(_ name: String, required: Bool = false) -> Timestamp? {
        guard let text = string(name, required: required) else { return nil }
        guard let value = Timestamp(rfc3339: text) else {
            fail(name, "must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z")
            return nil
        }
        return value
    }

    /// Any JSON value, unchecked.
    public mutating func raw(_ name: String) -> JSON? {
        value(name)
    }

    /// Throws a 400 listing every problem, including members no reader asked for.
    public func finish() throws {
        var all = errors
        for (name, _) in members where !known.contains(name) {
            all.append(FieldError(field: name, message: "is not a known field"))
        }
        if !all.isEmpty { throw Problem.validation(all) }
    }
}

/// A `limit` and opaque `cursor` for list endpoints; the last page has no `next_cursor`.
public struct PageRequest: Sendable {
    public let limit: Int
    public let cursor: String?

    /// Reads `limit` (1–`maximum`, default `default`) and `cursor` from the query; 400 for a bad limit.
    public init(_ query: QueryParameters, default defaultLimit: Int = 50, maximum: Int = 500) throws {
        if let text = query["limit"] {
            guard let value = Int(text), (1...maximum).contains(value) else {
                throw Problem.invalidField("limit", "must be a whole number from 1 to \(maximum)")
            }
            limit = value
        } else {
            limit = defaultLimit
        }
        cursor = query["cursor"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

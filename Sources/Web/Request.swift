import Domain

/// One HTTP request as nginx handed it over FastCGI: method, path, query, headers, body and client facts.
public struct Request {
    /// Upper-case method, e.g. `GET`.
    public var method: String
    /// The decoded, normalized path (nginx's `DOCUMENT_URI`), without the query.
    public var path: String
    public var query: QueryParameters
    public var headers: Headers
    /// The body, read up to the configured limit.
    public var body: [UInt8]
    /// True when the body was larger than the limit and was not read; the pipeline answers 413.
    public var bodyExceedsLimit = false
    /// The client address nginx saw (`REMOTE_ADDR`).
    public var clientAddress: String
    /// nginx's `$request_id`, also sent back as `X-Request-Id`.
    public var requestID: String
    /// The TLS client certificate facts nginx passes from its mTLS listener, if any.
    public var clientCertificate: ClientCertificate?
    /// Values of the route pattern's `{name}` segments, set by the router.
    public var pathParameters: [String: String] = [:]

    public init(
        method: String, path: String, query: QueryParameters = QueryParameters(""), headers: Headers = Headers(),
        body: [UInt8] = [], clientAddress: String = "", requestID: String = "",
        clientCertificate: ClientCertificate? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.clientAddress = clientAddress
        self.requestID = requestID
        self.clientCertificate = clientCertificate
    }

    /// Builds a request from FastCGI/CGI parameters (`REQUEST_METHOD`, `DOCUMENT_URI`, `QUERY_STRING`,
    /// `CONTENT_TYPE`, `HTTP_*`, `REMOTE_ADDR`, `REQUEST_ID`, `SSL_CLIENT_VERIFY`, `SSL_CLIENT_CERT`).
    public init(cgiParameters parameters: [(String, String)], body: [UInt8]) {
        var method = "GET"
        var path = "/"
        var queryString = ""
        var headers = Headers()
        var clientAddress = ""
        var requestID = ""
        var verify: String?
        var certificate: String?
        for (name, value) in parameters {
            if name.utf8.starts(with: "HTTP_".utf8) {
                headers.add(lowercasedName: Headers.name(fromCGI: name), value)
                continue
            }
            switch name {
            case "REQUEST_METHOD": method = value
            case "DOCUMENT_URI": path = value
            case "QUERY_STRING": queryString = value
            case "CONTENT_TYPE": headers.add(lowercasedName: "content-type", value)
            case "CONTENT_LENGTH": headers.add(lowercasedName: "content-length", value)
            case "REMOTE_ADDR": clientAddress = value
            case "REQUEST_ID": requestID = value
            case "SSL_CLIENT_VERIFY": verify = value
            case "SSL_CLIENT_CERT": certificate = value
            default: break
            }
        }
        self.init(
            method: method, path: path, query: QueryParameters(queryString), headers: headers, body: body,
            clientAddress: clientAddress, requestID: requestID,
            clientCertificate: verify.map { ClientCertificate(verification: $0, escapedPEM: certificate ?? "") }
        )
    }

    /// The media type of the body without parameters, lower-cased (`application/json`).
    public var mediaType: String? {
        guard let value = headers["content-type"] else { return nil }
        let type = value.split(separator: ";", maxSplits: 1).first.map(String.init) ?? value
        return type.trimmingSpaces().lowercased()
    }

    /// A parameter of the body's media type (`charset` of `application/json; charset=utf-8`), unquoted, or nil.
    public func mediaTypeParameter(_ name: String) -> String? {
        guard let value = headers["content-type"] else { return nil }
        for parameter in value.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingSpaces().lowercased() == name else { continue }
            let text = pair[1].trimmingSpaces()
            let isQuoted = text.count >= 2 && text.hasPrefix("\"") && text.hasSuffix("\"")
            return isQuoted ? String(text.dropFirst().dropLast()) : text
        }
        return nil
    }
}

/// What nginx's mTLS listener reports: `$ssl_client_verify` and `$ssl_client_escaped_cert`.
public struct ClientCertificate: Sendable, Equatable {
    /// `SUCCESS`, `NONE` or `FAILED:<reason>`.
    public let verification: String
    /// The URL-encoded PEM of the client's certificate.
    public let escapedPEM: String

    public init(verification: String, escapedPEM: String) {
        self.verification = verification
        self.escapedPEM = escapedPEM
    }

    /// True only when nginx verified the chain against the configured CA.
    public var isVerified: Bool { verification == "SUCCESS" }
}

/// Request headers with lower-case names; repeated headers keep every value.
public struct Headers: Sendable {
    private var entries: [(name: String, value: String)] = []

    public init(_ entries: [(String, String)] = []) {
        for (name, value) in entries { add(name, value) }
    }

    /// Adds a value; the name is lower-cased.
    public mutating func add(_ name: String, _ value: String) {
        entries.append((name.lowercased(), value))
    }

    /// Adds a value whose name is already lower-case.
    mutating func add(lowercasedName name: String, _ value: String) {
        entries.append((name, value))
    }

    /// The first value of a header (name in any case).
    public subscript(name: String) -> String? {
        let lowered = name.lowercased()
        return entries.first(where: { $0.name == lowered })?.value
    }

    /// Every header, in arrival order.
    public var all: [(name: String, value: String)] { entries }

    /// `HTTP_X_API_KEY` → `x-api-key`.
    static func name(fromCGI parameter: String) -> String {
        let bytes = parameter.utf8.dropFirst(5).map { byte -> UInt8 in
            switch byte {
            case UInt8(ascii: "_"): UInt8(ascii: "-")
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte + 32
            default: byte
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The decoded `name=value` pairs of a query string, in order.
public struct QueryParameters: Sendable {
    public let pairs: [(name: String, value: String)]
    /// False when some part was not valid percent-encoding; handlers answer 400 then.
    public let isWellFormed: Bool

    /// Parses `a=1&b=x%20y`; `+` stands for a space.
    public init(_ queryString: String) {
        var pairs: [(String, String)] = []
        var wellFormed = true
        for part in queryString.split(separator: "&", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.percentDecode(pieces[0])
            let value = pieces.count > 1 ? Self.percentDecode(pieces[1]) : ""
            guard let name, let value else {
                wellFormed = false
                continue
            }
            pairs.append((name, value))
        }
        self.pairs = pairs
        self.isWellFormed = wellFormed
    }

    /// The first value of `name`, or nil.
    public subscript(name: String) -> String? {
        pairs.first(where: { $0.name == name })?.value
    }

    /// Names given more than once, in order of their first repeat. No parameter takes several values, and taking
    /// one of them silently (`?status=queued&status=failed` filtering by `queued` only) would hide a mistake.
    public var repeatedNames: [String] {
        var seen: Set<String> = []
        var repeated: [String] = []
        for (name, _) in pairs where !seen.insert(name).inserted && !repeated.contains(name) {
            repeated.append(name)
        }
        return repeated
    }

    /// The 400 for a query that is malformed or names a parameter twice, or nil.
    public var wholeQueryProblem: Problem? {
        guard isWellFormed else { return Self.malformed }
        let repeated = repeatedNames
        guard repeated.isEmpty else {
            return Problem.validation(repeated.map { FieldError(field: $0, message: "is given more than once") })
        }
        return nil
    }

    /// The 400 for a query string that is not valid percent-encoding or holds a NUL (`%00`).
    public static let malformed = Problem(
        .badRequest, detail: "The query string is not valid percent-encoding, or holds a NUL character (%00).")

    /// Names that are not in `allowed`, so handlers can refuse unknown filters instead of ignoring them.
    public func unknownNames(allowed: Set<String>) -> [String] {
        pairs.map(\.name).filter { !allowed.contains($0) }
    }

    /// Throws 400 for a malformed query string or any parameter not in `allowed` (a misspelt filter must not
    /// silently return everything).
    public func requireOnly(_ allowed: Set<String>) throws {
        guard isWellFormed else { throw Self.malformed }
        let unknown = unknownNames(allowed: allowed)
        if !unknown.isEmpty {
            throw Problem.validation(unknown.map { FieldError(field: $0, message: "is not a known parameter") })
        }
    }

    static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                // %00 too is refused: no value stored in PostgreSQL can hold it.
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue),
                    high | low != 0
                else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Substring {
    /// The text without leading and trailing spaces and tabs.
    public func trimmingSpaces() -> String {
        // By bytes: spaces and tabs are ASCII, so the ends found are character boundaries.
        let isBlank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        guard let first = utf8.firstIndex(where: { !isBlank($0) }), let last = utf8.lastIndex(where: { !isBlank($0) })
        else { return "" }
        return String(self[first..<utf8.index(after: last)])
    }
}

extension String {
    /// The text without leading and trailing spaces and tabs.
    public func trimmingSpaces() -> String { self[...].trimmingSpaces() }
}


import Domain

/// What a handler returns: status, headers and a body that is either bytes or written piece by piece.
public struct Response {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Body

    /// A body held in memory, or one produced while it is sent (NDJSON exports), so large results never sit in
    /// memory at once.
    public enum Body {
        case bytes([UInt8])
        case stream((any BodyWriter) throws -> Void)
    }

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = .bytes(body)
    }

    /// A streamed response; `produce` is called once, on the request's thread, after the headers are sent.
    public init(status: Int, headers: [(name: String, value: String)], stream produce: @escaping (any BodyWriter) throws -> Void) {
        self.status = status
        self.headers = headers
        self.body = .stream(produce)
    }

    /// A JSON response built from a value.
    public static func json(_ value: JSON, status: Int = 200) -> Response {
        Response(status: status, headers: [("Content-Type", "application/json")], body: value.bytes)
    }

    /// A JSON response from text that is already JSON (as PostgreSQL serialized it).
    public static func json(text: String, status: Int = 200) -> Response {
        Response(status: status, headers: [("Content-Type", "application/json")], body: Array(text.utf8))
    }

    /// 204 without a body.
    public static var noContent: Response { Response(status: 204) }

    /// The first value of a header, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first(where: { $0.name.lowercased() == lowered })?.value
    }

    /// The reason phrase for the status line that FastCGI's `Status:` header carries.
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status"
        }
    }
}

/// Where a streamed body goes; the FastCGI layer implements it over the request's output stream.
public protocol BodyWriter {
    /// Sends the next piece of the body; throws when the client has gone.
    func write(_ bytes: [UInt8]) throws
}

import Foundation
import Glibc

/// An HTTP response as the client received it.
struct HTTPResponse {
    let status: Int
    let headers: [(name: String, value: String)]
    let body: [UInt8]

    /// The first value of a header, name compared case-insensitively.
    func header(_ name: String) -> String? {
        headers.first(where: { $0.name.lowercased() == name.lowercased() })?.value
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as a JSON object by Foundation (independent of the server's own JSON code).
    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }
}

enum HTTPClientError: Error {
    case connect(Int32)
    case malformedResponse(String)
}

/// A deliberately small HTTP/1.1 client over a TCP socket: one request per connection (`Connection: close`),
/// Content-Length and chunked bodies. Plain HTTP only; TLS tests use curl.
struct HTTPClient {
    let host: String
    let port: UInt16

    /// The client for `TEST_BASE_URL` (`http://127.0.0.1:PORT`).
    init(baseURL: String) {
        let withoutScheme = baseURL.replacingOccurrences(of: "http://", with: "")
        let parts = withoutScheme.split(separator: ":")
        host = String(parts[0])
        port = UInt16(parts[1].split(separator: "/")[0])!
    }

    func get(_ path: String, headers: [(String, String)] = []) throws -> HTTPResponse {
        try send("GET", path, headers: headers)
    }

    func post(_ path: String, json: String, headers: [(String, String)] = []) throws -> HTTPResponse {
        try send("POST", path, headers: [("Content-Type", "application/json")] + headers, body: Array(json.utf8))
    }

    func send(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        timeoutSeconds: Int = 90
    ) throws -> HTTPResponse {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        let received = try exchange(Array(head.utf8) + (body ?? []), timeoutSeconds: timeoutSeconds)
        return try Self.parse(received, bodyExpected: method != "HEAD")
    }

    /// Sends `request` exactly as given (for requests this client would not write) and parses the answer.
    func sendRaw(_ request: String, timeoutSeconds: Int = 10) throws -> HTTPResponse {
        try Self.parse(try exchange(Array(request.utf8), timeoutSeconds: timeoutSeconds))
    }

    /// Sends a request, stays connected for `seconds` without reading, then closes the connection: a client that
    /// gives up on a long-poll.
    func sendAndHangUp(after seconds: Double, _ method: String, _ path: String, headers: [(String, String)] = []) throws {
        let socket = try connected(timeoutSeconds: 90)
        defer { close(socket) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        try writeAll(socket, Array((head + "\r\n").utf8))
        usleep(UInt32(seconds * 1_000_000))
    }

    /// Writes `bytes` on a new connection and reads until the server closes it.
    private func exchange(_ bytes: [UInt8], timeoutSeconds: Int) throws -> [UInt8] {
        let socket = try connected(timeoutSeconds: timeoutSeconds)
        defer { close(socket) }
        try writeAll(socket, bytes)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(socket, &buffer, buffer.count)
            if count <= 0 { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return received
    }

    /// A socket connected to the server, with a receive timeout; the caller closes it.
    private func connected(timeoutSeconds: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw HTTPClientError.connect(errno) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let failure = errno
            close(socket)
            throw HTTPClientError.connect(failure)
        }
        return socket
    }

    private func writeAll(_ socket: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(socket, $0.baseAddress, $0.count) }
            if written <= 0 { throw HTTPClientError.connect(errno) }
            offset += written
        }
    }

    /// Parses a whole response; throws when its body is shorter than announced (cut off), by either framing.
    static func parse(_ data: [UInt8], bodyExpected: Bool = true) throws -> HTTPResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = data.firstRange(of: separator) else {
            throw HTTPClientError.malformedResponse("no header end in \(data.count) bytes")
        }
        let head = String(decoding: data[..<headEnd.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw HTTPClientError.malformedResponse("bad status line")
        }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body = Array(data[headEnd.upperBound...])
        let isChunked = headers.contains { $0.name.lowercased() == "transfer-encoding" && $0.value.contains("chunked") }
        if isChunked {
            body = try dechunk(body)
        } else if bodyExpected, let length = headers.first(where: { $0.name.lowercased() == "content-length" })
            .flatMap({ Int($0.value) }), body.count != length
        {
            throw HTTPClientError.malformedResponse("body of \(body.count) bytes, announced \(length): cut off")
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    /// The body of a chunked response; throws when it was cut off before its last (empty) chunk.
    static func dechunk(_ data: [UInt8]) throws -> [UInt8] {
        var result: [UInt8] = []
        var index = 0
        while index < data.count {
            guard let lineEnd = data[index...].firstRange(of: [13, 10]) else { break }
            let sizeText = String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";")[0], radix: 16) else {
                throw HTTPClientError.malformedResponse("bad chunk size")
            }
            if size == 0 { return result }
            let start = lineEnd.upperBound
            guard start + size <= data.count else { break }
            result.append(contentsOf: data[start..<start + size])
            index = start + size + 2
        }
        throw HTTPClientError.malformedResponse("the chunked body ended before its last chunk")
    }
}

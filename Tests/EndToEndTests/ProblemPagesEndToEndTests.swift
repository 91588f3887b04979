import Foundation
import Glibc
import Testing

/// What nginx answers by itself is problem+json too, on both servers (the problem types' pages follow).
@Suite(.enabled(if: Stack.isAvailable)) struct ProblemPagesEndToEndTests {
    let client = Stack.client

    static let contentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

    /// The server's security headers, present on every response nginx sends.
    func expectSecurityHeaders(_ response: HTTPResponse, _ comment: Comment? = nil) {
        #expect(response.header("X-Content-Type-Options") == "nosniff", comment)
        #expect(response.header("X-Frame-Options") == "DENY", comment)
        #expect(response.header("Referrer-Policy") == "no-referrer", comment)
        #expect(response.header("Content-Security-Policy") == Self.contentSecurityPolicy, comment)
        #expect(response.header("X-Request-Id")?.count == 32, comment)
    }

    /// A problem document nginx wrote, with the status it is sent with.
    func expectProblem(_ response: HTTPResponse, status: Int, type: String, _ comment: Comment? = nil) throws {
        #expect(response.status == status, comment)
        #expect(response.header("Content-Type") == "application/problem+json", comment)
        let body = try #require(response.json, comment)
        #expect(body["type"] as? String == type, comment)
        #expect(body["title"] is String, comment)
        #expect(body["status"] as? Int == status, comment)
        #expect(body["detail"] is String, comment)
        expectSecurityHeaders(response, comment)
    }

    @Test func aMissingFileIsAProblem() throws {
        try expectProblem(try client.get("/no-such-file.js"), status: 404, type: "/problems/not-found")
    }

    @Test func aRequestLineOverTheBufferIs414Problem() throws {
        let path = "/api/v1/health?q=" + String(repeating: "a", count: 17 * 1024)
        try expectProblem(try client.get(path), status: 414, type: "/problems/bad-request")
    }

    @Test func anUnknownTransferEncodingIs501Problem() throws {
        let response = try client.send("POST", "/api/v1/jobs", headers: [("Transfer-Encoding", "gzip")])
        try expectProblem(response, status: 501, type: "/problems/bad-request")
    }

    @Test func anHTTPVersionOtherThanOneIs505Problem() throws {
        let response = try Self.raw("GET / HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n", port: client.port)
        try expectProblem(response, status: 505, type: "/problems/bad-request")
    }

    @Test func traceIs405ProblemEverywhere() throws {
        let page = try client.send("TRACE", "/")
        try expectProblem(page, status: 405, type: "/problems/method-not-allowed")
        #expect(page.header("Allow") == "GET, HEAD")
        // Under /api/ the methods are the route's, which nginx does not know: no Allow rather than a wrong one.
        let api = try client.send("TRACE", "/api/v1/jobs")
        try expectProblem(api, status: 405, type: "/problems/method-not-allowed")
        #expect(api.header("Allow") == nil)
    }

    @Test func writingToTheStaticSiteIs405ProblemWithAllow() throws {
        let response = try client.send("POST", "/index.html", body: Array("x".utf8))
        try expectProblem(response, status: 405, type: "/problems/method-not-allowed")
        #expect(response.header("Allow") == "GET, HEAD")
    }

    @Test func theResponders405KeepsItsOwnAllowOnly() throws {
        let response = try client.send("PUT", "/api/v1/health", body: Array("{}".utf8))
        #expect(response.status == 405)
        #expect(response.headers.filter { $0.name.lowercased() == "allow" }.map(\.value) == ["GET"])
    }

    // MARK: - The TLS server mirrors the plain one

    var tlsPort: UInt16 { UInt16(Stack.environment["TEST_TLS_BASE_URL"]!.split(separator: ":").last!)! }

    @Test func plainHTTPToTheTLSPortIs400Problem() throws {
        let response = try HTTPClient(baseURL: "http://127.0.0.1:\(tlsPort)").get("/api/v1/health")
        try expectProblem(response, status: 400, type: "/problems/bad-request")
        #expect(response.header("Strict-Transport-Security") != nil)
    }

    @Test func theTLSServerAnswersProblemsToo() throws {
        func curl(_ path: String) throws -> (status: Int, headers: String) {
            let result = try Stack.run(
                "/usr/bin/curl", ["-s", "-k", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", Stack.environment["TEST_TLS_BASE_URL"]! + path])
            // The headers, then the status code (`-w`): its last three characters.
            return (Int(result.output.suffix(3)) ?? 0, result.output.lowercased())
        }
        let missing = try curl("/no-such-file")
        #expect(missing.status == 404)
        #expect(missing.headers.contains("content-type: application/problem+json"))
        #expect(missing.headers.contains("content-security-policy: " + Self.contentSecurityPolicy.lowercased()))
        #expect(missing.headers.contains("strict-transport-security:"))
        let trace = try Stack.run(
            "/usr/bin/curl", ["-s", "-k", "-X", "TRACE", Stack.environment["TEST_TLS_BASE_URL"]! + "/"])
        let body = (try? JSONSerialization.jsonObject(with: Data(trace.output.utf8))) as? [String: Any]
        #expect(body?["type"] as? String == "/problems/method-not-allowed")
        #expect(body?["status"] as? Int == 405)
    }

    // MARK: - A request HTTPClient cannot write

    /// Sends `request` as it is and reads the answer until the server closes the connection.
    static func raw(_ request: String, port: UInt16) throws -> HTTPResponse {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw HTTPClientError.connect(errno) }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw HTTPClientError.connect(errno) }
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ write(socket, $0.baseAddress, $0.count) }) == bytes.count else {
            throw HTTPClientError.connect(errno)
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(socket, &buffer, buffer.count)
            if count <= 0 { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return try HTTPClient.parse(received)
    }
}

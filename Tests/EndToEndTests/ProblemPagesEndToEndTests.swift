import Foundation
import Testing

/// Problem types resolve to pages, and what nginx answers by itself is problem+json too, on both servers.
@Suite(.enabled(if: Stack.isAvailable)) struct ProblemPagesEndToEndTests {
    let client = Stack.client

    static let contentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

    /// Every problem kind declared in Sources/Web/Problem.swift (WebTests checks that this reading matches
    /// `Problem.Kind.all`, which this target cannot import).
    static func kinds() throws -> [(slug: String, title: String, status: Int)] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let source = try String(contentsOf: root.appendingPathComponent("Sources/Web/Problem.swift"), encoding: .utf8)
        let declaration = #/public static let \w+ = Kind\(\s*slug: "([^"]+)", title: "([^"]+)", status: (\d+)\)/#
        return source.matches(of: declaration).map { (String($0.output.1), String($0.output.2), Int($0.output.3)!) }
    }

    /// The server's security headers, present on every response nginx sends.
    func expectSecurityHeaders(_ response: HTTPResponse, _ comment: Comment? = nil) {
        #expect(response.header("X-Content-Type-Options") == "nosniff", comment)
        #expect(response.header("X-Frame-Options") == "DENY", comment)
        #expect(response.header("Referrer-Policy") == "no-referrer", comment)
        #expect(response.header("Content-Security-Policy") == Self.contentSecurityPolicy, comment)
        #expect(response.header("X-Request-Id")?.count == 32, comment)
    }

    /// A problem document nginx wrote: the status matches, and its `type` is a page on this server.
    func expectProblem(_ response: HTTPResponse, status: Int, type: String, _ comment: Comment? = nil) throws {
        #expect(response.status == status, comment)
        #expect(response.header("Content-Type") == "application/problem+json", comment)
        let body = try #require(response.json, comment)
        #expect(body["type"] as? String == type, comment)
        #expect(body["title"] is String, comment)
        #expect(body["status"] as? Int == status, comment)
        #expect(body["detail"] is String, comment)
        expectSecurityHeaders(response, comment)
        #expect(try client.get(type).status == 200, comment)
    }

    @Test func everyProblemTypeIsAPage() throws {
        let kinds = try Self.kinds()
        #expect(kinds.count >= 21)
        for kind in kinds {
            let response = try client.get("/problems/" + kind.slug)
            #expect(response.status == 200, "\(kind.slug)")
            #expect(response.header("Content-Type") == "text/html; charset=utf-8", "\(kind.slug)")
            #expect(response.text.contains("<h1>\(kind.title)</h1>"), "\(kind.slug)")
            #expect(response.text.contains("<dt>status</dt><dd>\(kind.status)"), "\(kind.slug)")
            expectSecurityHeaders(response, "\(kind.slug)")
        }
        let index = try client.get("/problems/")
        #expect(index.status == 200)
        #expect(index.header("Content-Type") == "text/html; charset=utf-8")
        for kind in kinds { #expect(index.text.contains("href=\"/problems/\(kind.slug)\""), "\(kind.slug)") }
        let style = try client.get("/style.css")
        #expect(style.status == 200)
        #expect(style.header("Content-Type")?.hasPrefix("text/css") == true)
    }

    @Test func onlyTheExactPathIsAPage() throws {
        for path in ["/problems/not-found.html", "/problems/no-such-type", "/problems/not-found/", "/_errors/timeout.json"] {
            try expectProblem(try client.get(path), status: 404, type: "/problems/not-found", "\(path)")
        }
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
        let response = try client.sendRaw("GET / HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n")
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
        #expect(response.headers.filter { $0.name.lowercased() == "allow" }.map(\.value) == ["GET, HEAD"])
    }

    // MARK: - The TLS server mirrors the plain one

    var tlsPort: UInt16 { UInt16(Stack.environment["TEST_TLS_BASE_URL"]!.split(separator: ":").last!)! }

    @Test func plainHTTPToTheTLSPortIs400Problem() throws {
        let response = try HTTPClient(baseURL: "http://127.0.0.1:\(tlsPort)").get("/api/v1/health")
        try expectProblem(response, status: 400, type: "/problems/bad-request")
        #expect(response.header("Strict-Transport-Security") != nil)
    }

    @Test func theTLSServerServesThePagesAndProblems() throws {
        func curl(_ path: String) throws -> (status: Int, headers: String) {
            let result = try Stack.run(
                "/usr/bin/curl", ["-s", "-k", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", Stack.environment["TEST_TLS_BASE_URL"]! + path])
            // The headers, then the status code (`-w`): its last three characters.
            return (Int(result.output.suffix(3)) ?? 0, result.output.lowercased())
        }
        let page = try curl("/problems/timeout")
        #expect(page.status == 200)
        #expect(page.headers.contains("content-type: text/html; charset=utf-8"))
        #expect(page.headers.contains("content-security-policy: " + Self.contentSecurityPolicy.lowercased()))
        #expect(page.headers.contains("strict-transport-security:"))
        let missing = try curl("/no-such-file")
        #expect(missing.status == 404)
        #expect(missing.headers.contains("content-type: application/problem+json"))
        let trace = try Stack.run(
            "/usr/bin/curl", ["-s", "-k", "-X", "TRACE", Stack.environment["TEST_TLS_BASE_URL"]! + "/"])
        let body = (try? JSONSerialization.jsonObject(with: Data(trace.output.utf8))) as? [String: Any]
        #expect(body?["type"] as? String == "/problems/method-not-allowed")
        #expect(body?["status"] as? Int == 405)
    }
}

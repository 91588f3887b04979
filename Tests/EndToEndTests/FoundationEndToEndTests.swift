import Foundation
import Testing

/// The runtime through the real nginx: health probes, problem bodies, headers and the static dashboard.
@Suite(.enabled(if: Stack.isAvailable)) struct FoundationEndToEndTests {
    let client = Stack.client

    @Test func healthAnswersThroughNginx() throws {
        let response = try client.get("/api/v1/health")
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.json?["status"] as? String == "ok")
        let requestID = try #require(response.header("X-Request-Id"))
        #expect(requestID.count == 32 && requestID.allSatisfy(\.isHexDigit))
        #expect(response.header("X-Content-Type-Options") == "nosniff")
        #expect(response.header("X-Frame-Options") == "DENY")
        #expect(response.header("Referrer-Policy") == "no-referrer")
    }

    @Test func readinessAnswersWhenMigrated() throws {
        let response = try client.get("/api/v1/health/ready")
        #expect(response.status == 200)
        #expect(response.json?["status"] as? String == "ready")
        #expect((response.json?["schema_version"] as? Int ?? 0) >= 1)
    }

    @Test func unknownRouteIsProblemWithTheRequestID() throws {
        let response = try client.get("/api/v1/no-such-thing")
        #expect(response.status == 404)
        #expect(response.header("Content-Type") == "application/problem+json")
        let body = try #require(response.json)
        #expect(body["type"] as? String == "/problems/not-found")
        #expect(body["title"] as? String == "Not found")
        #expect(body["status"] as? Int == 404)
        #expect(body["detail"] is String)
        #expect(body["instance"] as? String == response.header("X-Request-Id"))
        #expect(body["request_id"] as? String == response.header("X-Request-Id"))
    }

    @Test func anUndecodableQueryIs400OnEveryRoute() throws {
        // Routes that read no parameters refuse it too, instead of answering as if it were not there.
        for path in ["/api/v1/users?cursor=%00", "/api/v1/queue/stats?x=%zz", "/api/v1/keys?a=%4"] {
            let response = try Fixtures.admin.get(path)
            #expect(response.status == 400, "\(path)")
            #expect(response.json?["type"] as? String == "/problems/bad-request", "\(path)")
        }
    }

    @Test func noResponderIs503ProblemWithRetryAfter() throws {
        // nginx finds no socket (as while every responder is being replaced): its own 502 must reach clients as the
        // 503 problem document, which they retry. The responders keep their listening socket; only the name goes.
        let socket = try #require(Stack.environment["TEST_FCGI_SOCKET"])
        #expect(rename(socket, socket + ".away") == 0)
        defer { rename(socket + ".away", socket) }
        let response = try Stack.client.get("/api/v1/health")
        #expect(response.status == 503)
        #expect(response.header("Content-Type") == "application/problem+json")
        #expect(response.header("Retry-After") == "1")
        #expect(response.json?["type"] as? String == "/problems/unavailable")
        #expect(response.json?["status"] as? Int == 503)
        #expect(response.header("X-Request-Id") != nil)
    }

    @Test func wrongMethodIs405WithAllow() throws {
        let response = try client.send("PUT", "/api/v1/health", body: Array("{}".utf8))
        #expect(response.status == 405)
        #expect(response.header("Allow") == "GET, HEAD")
        #expect(response.json?["type"] as? String == "/problems/method-not-allowed")
    }

    @Test func bodyOverTheResponderLimitIs413Problem() throws {
        let limit = Int(Stack.environment["TEST_MAX_BODY_BYTES"] ?? "1048576")!
        let body = [UInt8](repeating: UInt8(ascii: "a"), count: limit + 1)
        let response = try client.send("POST", "/api/v1/health", headers: [("Content-Type", "application/json")], body: body)
        #expect(response.status == 413)
        #expect(response.header("Content-Type") == "application/problem+json")
        #expect(response.json?["type"] as? String == "/problems/payload-too-large")
        #expect(response.json?["request_id"] as? String == response.header("X-Request-Id"))
    }

    @Test func bodyOverTheNginxLimitIs413Problem() throws {
        let body = [UInt8](repeating: UInt8(ascii: "a"), count: 17 * 1024 * 1024)
        let response = try client.send("POST", "/api/v1/health", headers: [("Content-Type", "application/json")], body: body)
        #expect(response.status == 413)
        #expect(response.header("Content-Type") == "application/problem+json")
        #expect(response.json?["type"] as? String == "/problems/payload-too-large")
    }

    @Test func dashboardIsServedStatically() throws {
        let response = try client.get("/")
        #expect(response.status == 200)
        #expect(response.header("Content-Type")?.hasPrefix("text/html") == true)
        #expect(response.text.contains("Switchyard"))
        #expect(response.header("X-Frame-Options") == "DENY")
        // Its script and style are files, so the policy need not allow inline ones.
        #expect(
            response.header("Content-Security-Policy")
                == "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        #expect(!response.text.contains("<style") && !response.text.contains(" style="))
        #expect(response.text.components(separatedBy: "<script").count == response.text.components(separatedBy: "<script src=").count)
    }
}

import Testing
import Web

@Suite struct RequestTests {
    @Test func mapsCGIParameters() {
        let request = Request(
            cgiParameters: [
                ("REQUEST_METHOD", "POST"), ("DOCUMENT_URI", "/api/v1/jobs"), ("QUERY_STRING", "a=1&b=x%20y+z"),
                ("CONTENT_TYPE", "application/json; charset=utf-8"), ("CONTENT_LENGTH", "2"),
                ("HTTP_AUTHORIZATION", "Bearer k"), ("HTTP_X_API_KEY", "sy_x"), ("REMOTE_ADDR", "10.0.0.1"),
                ("REQUEST_ID", "abc123"), ("SSL_CLIENT_VERIFY", "SUCCESS"), ("SSL_CLIENT_CERT", "-----BEGIN%20"),
                ("HTTP_USER_AGENT", "curl/8"),
            ], body: Array("{}".utf8))
        #expect(request.method == "POST")
        #expect(request.path == "/api/v1/jobs")
        #expect(request.query["a"] == "1")
        #expect(request.query["b"] == "x y z")
        #expect(request.headers["authorization"] == "Bearer k")
        #expect(request.headers["X-API-Key"] == "sy_x")
        #expect(request.headers["user-agent"] == "curl/8")
        #expect(request.mediaType == "application/json")
        #expect(request.clientAddress == "10.0.0.1")
        #expect(request.requestID == "abc123")
        #expect(request.clientCertificate == ClientCertificate(verification: "SUCCESS", escapedPEM: "-----BEGIN%20"))
        #expect(request.clientCertificate?.isVerified == true)
        #expect(request.body == Array("{}".utf8))
    }

    @Test func trimmingSpacesKeepsEverythingBetweenTheEnds() {
        #expect(" \t sy_key é ü\t ".trimmingSpaces() == "sy_key é ü")
        #expect("é".trimmingSpaces() == "é")
        #expect(" \t\t ".trimmingSpaces() == "")
        #expect("".trimmingSpaces() == "")
        #expect("Bearer  token "[...].dropFirst(6).trimmingSpaces() == "token")
    }

    @Test func noCertificateWithoutVerificationParameter() {
        let request = Request(cgiParameters: [("REQUEST_METHOD", "GET")], body: [])
        #expect(request.clientCertificate == nil)
        #expect(request.path == "/")
    }

    @Test func queryParsingFlagsBadPercentEncoding() {
        let query = QueryParameters("ok=1&bad=%zz&also=%4")
        #expect(!query.isWellFormed)
        #expect(!QueryParameters("name=a%00b").isWellFormed, "no stored value can hold a NUL")
        #expect(query["ok"] == "1")
        #expect(query["bad"] == nil)
        #expect(query.wholeQueryProblem?.kind == .badRequest)
        let good = QueryParameters("status=queued&empty=&flag")
        #expect(good.isWellFormed)
        #expect(good.wholeQueryProblem == nil)
        #expect(good["empty"] == "")
        #expect(good["flag"] == "")
        #expect(good.unknownNames(allowed: ["status", "empty"]) == ["flag"])
    }

    @Test func jsonBodiesMustBeUTF8JSON() throws {
        func problem(_ contentType: String?) -> Problem.Kind? {
            let headers = Headers(contentType.map { [("Content-Type", $0)] } ?? [])
            let request = Request(method: "POST", path: "/", headers: headers, body: Array("{}".utf8))
            do {
                _ = try request.jsonObject()
                return nil
            } catch {
                return (error as? Problem)?.kind
            }
        }
        #expect(problem("application/json") == nil)
        #expect(problem("application/json; charset=UTF-8") == nil)
        #expect(problem(#"application/json;charset="utf-8""#) == nil)
        #expect(problem("application/json; charset=utf8") == nil)
        #expect(problem("application/merge-patch+json") == nil)
        #expect(problem("application/json; charset=iso-8859-1") == .unsupportedMediaType)
        #expect(problem("text/plain") == .unsupportedMediaType)
        #expect(problem(nil) == .unsupportedMediaType)
    }

    @Test(arguments: [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::9", "2001:db8:1:2::/64"),
        ("2001:DB8:0001:0002:ffff::1", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80:0:0:0::/64"),
        ("::1", "0:0:0:0::/64"),
        ("::", "0:0:0:0::/64"),
        ("::ffff:198.51.100.3", "198.51.100.3"),
        ("64:ff9b::192.0.2.1", "192.0.2.1"),
        ("64:ff9b:1::192.0.2.1", "64:ff9b:1:0::/64"),
        ("unix:", "unix:"),
        ("1:::2", "1:::2"),
        ("1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8:9"),
        ("12345::1", "12345::1"),
    ])
    func limitsCountAnIPv6ClientByItsNetwork(_ address: String, _ network: String) {
        #expect(Request(method: "GET", path: "/", clientAddress: address).clientNetwork == network)
    }

    @Test func aParameterGivenTwiceIsRefused() throws {
        let query = QueryParameters("status=queued&limit=5&status=failed&limit=6&status=running")
        #expect(query.repeatedNames == ["status", "limit"])
        let problem = try #require(query.wholeQueryProblem)
        #expect(problem.kind == .validation)
        #expect(problem.errors.map(\.field) == ["status", "limit"])
    }
}

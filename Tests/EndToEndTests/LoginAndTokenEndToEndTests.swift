import Foundation
import OpenSSL
import Testing

/// Logins, issued tokens and an identity provider's tokens through nginx.
@Suite(.enabled(if: Stack.isAvailable)) struct LoginAndTokenEndToEndTests {
    let client = Stack.client

    @Test func loginReturnsASessionKeyWithItsExpiry() throws {
        let user = try Fixtures.user("login", roles: ["user"])
        let login = try client.post(
            "/api/v1/auth/login", json: #"{"username":"\#(user.name)","password":"correct horse battery staple","ttl_hours":5}"#)
        #expect(login.status == 200)
        #expect(login.json?["ttl_hours"] as? Int == 5)
        #expect(login.json?["expires_at"] is String)
        #expect(login.header("Cache-Control") == "no-store", "an answer with a secret is kept by no cache")
        let key = try #require(login.json?["key"] as? String)
        let me = try Caller(key: key).get("/api/v1/me")
        #expect(me.header("Cache-Control") == "no-store")
        #expect((me.json?["credential"] as? [String: Any])?["kind"] as? String == "session_key")
        #expect((me.json?["credential"] as? [String: Any])?["expires_at"] as? String == login.json?["expires_at"] as? String)
    }

    @Test func failedLoginsLookTheSameWhetherOrNotTheUserExists() throws {
        let user = try Fixtures.user("login-fail", roles: ["user"])
        let wrongPassword = try client.post("/api/v1/auth/login", json: #"{"username":"\#(user.name)","password":"nope"}"#)
        let unknownUser = try client.post(
            "/api/v1/auth/login", json: #"{"username":"\#(Fixtures.uniqueName("ghost"))","password":"nope"}"#)
        #expect(wrongPassword.status == 401)
        #expect(unknownUser.status == 401)
        #expect(wrongPassword.json?["type"] as? String == "/problems/login-failed")
        #expect(unknownUser.json?["type"] as? String == wrongPassword.json?["type"] as? String)
        #expect(unknownUser.json?["detail"] as? String == wrongPassword.json?["detail"] as? String)
        #expect(wrongPassword.header("WWW-Authenticate") != nil)
        #expect(unknownUser.header("WWW-Authenticate") == wrongPassword.header("WWW-Authenticate"))
    }

    @Test func badLoginBodiesAre400Or415() throws {
        let missing = try client.post("/api/v1/auth/login", json: #"{"username":"x"}"#)
        #expect(missing.status == 400)
        #expect((missing.json?["errors"] as? [[String: Any]])?.first?["field"] as? String == "password")
        let malformed = try client.post("/api/v1/auth/login", json: #"{"username": "#)
        #expect(malformed.status == 400)
        #expect(malformed.json?["type"] as? String == "/problems/bad-request")
        #expect((malformed.json?["detail"] as? String)?.contains("line 1") == true)
        let wrongType = try client.send(
            "POST", "/api/v1/auth/login", headers: [("Content-Type", "text/plain")], body: Array("x".utf8))
        #expect(wrongType.status == 415)
        #expect(wrongType.json?["type"] as? String == "/problems/unsupported-media-type")
    }

    @Test func repeatedFailuresForOneUsernameAreRateLimited() throws {
        let name = Fixtures.uniqueName("brute")
        var statuses: [Int] = []
        for _ in 0..<8 {
            statuses.append(try client.post("/api/v1/auth/login", json: #"{"username":"\#(name)","password":"guess"}"#).status)
        }
        #expect(statuses.prefix(5).allSatisfy { $0 == 401 })
        #expect(statuses.suffix(3).allSatisfy { $0 == 429 })
        let limited = try client.post("/api/v1/auth/login", json: #"{"username":"\#(name)","password":"guess"}"#)
        #expect(limited.header("Retry-After") != nil)
        #expect(limited.json?["type"] as? String == "/problems/rate-limited")
    }

    @Test func issuedTokensAuthenticateWithTheCallersPermissions() throws {
        let user = try Fixtures.user("token", roles: ["researcher"])
        let scoped = try #require(try user.post("/api/v1/keys", json: #"{"scopes":["job:read"]}"#).json?["key"] as? String)
        let issued = try Caller(key: scoped).post("/api/v1/auth/token", json: "{}")
        #expect(issued.status == 200)
        #expect(issued.json?["token_type"] as? String == "Bearer")
        let token = try #require(issued.json?["token"] as? String)
        let me = try Caller(key: token).get("/api/v1/me")
        #expect(me.status == 200)
        #expect((me.json?["credential"] as? [String: Any])?["kind"] as? String == "jwt")
        #expect(me.json?["permissions"] as? [String] == ["job:read"], "a token never does more than the key that asked")
    }

    @Test func issuedTokensFollowTheirPrincipalAndEndWithTheirCredential() throws {
        let user = try Fixtures.user("token-life", roles: ["researcher"])
        let keyExpiry = ISO8601DateFormatter().string(from: Date().addingTimeInterval(300))
        let created = try user.post("/api/v1/keys", json: #"{"expires_at":"\#(keyExpiry)"}"#)
        let shortKey = try #require(created.json?["key"] as? String)
        let first = try Caller(key: shortKey).post("/api/v1/auth/token", json: "{}")
        #expect(first.status == 200)
        #expect(first.json?["expires_at"] as? String == created.json?["expires_at"] as? String,
            "a token ends with the key that asked for it, not 15 minutes later")
        let token = try #require(first.json?["token"] as? String)
        let renewed = try Caller(key: token).post("/api/v1/auth/token", json: "{}")
        #expect(renewed.status == 200)
        #expect(renewed.json?["expires_at"] as? String == first.json?["expires_at"] as? String, "tokens cannot renew themselves")

        // Revoking the key that asked for a token ends the token (and the tokens made with it) at once.
        let revocable = try #require(try user.post("/api/v1/keys", json: "{}").json?["key"] as? String)
        let minted = try #require(try Caller(key: revocable).post("/api/v1/auth/token", json: "{}").json?["token"] as? String)
        let remade = try #require(try Caller(key: minted).post("/api/v1/auth/token", json: "{}").json?["token"] as? String)
        #expect(try Caller(key: minted).get("/api/v1/me").status == 200)
        #expect(try user.send("DELETE", "/api/v1/keys/\(revocable.prefix(12))").status == 204)
        for token in [minted, remade] {
            let refused = try Caller(key: token).get("/api/v1/me")
            #expect(refused.status == 401)
            #expect(refused.json?["type"] as? String == "/problems/revoked-credential")
        }

        // Taking a role away reaches tokens already issued, as it reaches keys.
        #expect(try Caller(key: token).post("/api/v1/jobs", json: "{}").status == 400, "job:create, so validation runs")
        #expect(try Fixtures.admin.send("PATCH", "/api/v1/users/\(user.name)", json: #"{"roles":["viewer"]}"#).status == 200)
        let me = try Caller(key: token).get("/api/v1/me")
        #expect(me.json?["permissions"] as? [String] == ["device:read", "job:read"])
        #expect(try Caller(key: token).post("/api/v1/jobs", json: "{}").status == 403)
    }

    @Test func identityProviderTokensCannotNameLocalAccounts() throws {
        let local = try Fixtures.user("local", roles: ["user"])
        let key = try PrivateKey(pem: try String(contentsOfFile: Stack.environment["TEST_IDP_RSA_KEY"]!, encoding: .utf8))
        let token = try Tokens.sign(
            header: #"{"alg":"RS256","kid":"idp-rsa","typ":"JWT"}"#,
            claims: Tokens.claims(subject: local.name, issuer: "https://idp.test", extra: #""roles":["admin"]"#)
        ) { try key.sign(message: $0, algorithm: .rs256) }
        let refused = try Caller(key: token).get("/api/v1/me")
        #expect(refused.status == 401)
        #expect(refused.json?["type"] as? String == "/problems/invalid-claims")
        #expect(try Caller(key: token).get("/api/v1/keys").status == 401)
    }

    @Test func identityProviderTokensProvisionTheirSubject() throws {
        let subject = Fixtures.uniqueName("sso")
        for (algorithm, keyID, path) in [("RS256", "idp-rsa", "TEST_IDP_RSA_KEY"), ("ES256", "idp-ec", "TEST_IDP_EC_KEY")] {
            let key = try PrivateKey(pem: try String(contentsOfFile: Stack.environment[path]!, encoding: .utf8))
            let token = try Tokens.sign(
                header: #"{"alg":"\#(algorithm)","kid":"\#(keyID)","typ":"JWT"}"#,
                claims: Tokens.claims(subject: subject, issuer: "https://idp.test", extra: #""roles":["viewer"]"#)
            ) { try key.sign(message: $0, algorithm: algorithm == "RS256" ? .rs256 : .es256) }
            let me = try Caller(key: token).get("/api/v1/me")
            #expect(me.status == 200, "\(algorithm): \(me.text)")
            #expect((me.json?["principal"] as? [String: Any])?["name"] as? String == subject)
            #expect(me.json?["roles"] as? [String] == ["viewer"])
        }
        let provisioned = try Fixtures.admin.get("/api/v1/users/\(subject)")
        #expect(provisioned.json?["external"] as? Bool == true)
    }

    @Test func refusedTokensThroughNginx() throws {
        let secret = Array(try String(contentsOfFile: Stack.environment["TEST_JWT_SECRET_FILE"]!, encoding: .utf8)
            .trimmingCharacters(in: .newlines).utf8)
        let subject = Fixtures.uniqueName("tok")
        func hs(_ claims: String, key: [UInt8] = secret, header: String = #"{"alg":"HS256","typ":"JWT"}"#) -> String {
            Tokens.sign(header: header, claims: claims) { HMACSHA256.authenticationCode(key: key, message: $0) }
        }
        let now = Int(Date().timeIntervalSince1970)
        let cases: [(String, String, String)] = [
            ("valid", hs(Tokens.claims(subject: subject)), ""),
            ("none", Tokens.sign(header: #"{"alg":"none"}"#, claims: Tokens.claims(subject: subject)) { _ in [0] },
                "/problems/invalid-signature"),
            ("wrong key", hs(Tokens.claims(subject: subject), key: Array("another secret of at least 32 bytes!".utf8)),
                "/problems/invalid-signature"),
            ("expired", hs(Tokens.claims(subject: subject, expires: now - 120)), "/problems/expired-credential"),
            ("not yet", hs(Tokens.claims(subject: subject, extra: #""nbf":\#(now + 600)"#)), "/problems/invalid-claims"),
            ("audience", hs(Tokens.claims(subject: subject, audience: "elsewhere")), "/problems/invalid-claims"),
            ("issuer", hs(Tokens.claims(subject: subject, issuer: "https://evil.test")), "/problems/invalid-claims"),
            ("confusion", hs(Tokens.claims(subject: subject),
                key: Array(try String(contentsOfFile: Stack.environment["TEST_TLS_DIR"]! + "/idp-rsa.pub", encoding: .utf8).utf8),
                header: #"{"alg":"HS256","kid":"idp-rsa"}"#), "/problems/invalid-signature"),
            ("unknown kid", hs(Tokens.claims(subject: subject), header: #"{"alg":"HS256","kid":"no-such-key"}"#),
                "/problems/invalid-signature"),
            ("bad base64", "@@@.@@@.@@@", "/problems/invalid-credential"),
            ("huge", hs(Tokens.claims(subject: subject, extra: #""pad":"\#(String(repeating: "x", count: 9000))""#)),
                "/problems/invalid-credential"),
        ]
        for (name, token, expectedType) in cases {
            let response = try Caller(key: token).get("/api/v1/me")
            if expectedType.isEmpty {
                #expect(response.status == 200, "\(name): \(response.text)")
            } else {
                #expect(response.status == 401, "\(name)")
                #expect(response.json?["type"] as? String == expectedType, "\(name): \(response.text)")
                #expect(response.header("WWW-Authenticate") != nil, "\(name)")
            }
        }
    }
}

/// Building JWTs in tests, by hand, so that broken ones can be built too.
enum Tokens {
    static func claims(
        subject: String, issuer: String = "switchyard", audience: String = "switchyard", expires: Int? = nil,
        extra: String = ""
    ) -> String {
        let exp = expires ?? Int(Date().timeIntervalSince1970) + 600
        let more = extra.isEmpty ? "" : "," + extra
        return #"{"iss":"\#(issuer)","aud":"\#(audience)","sub":"\#(subject)","exp":\#(exp)\#(more)}"#
    }

    static func sign(header: String, claims: String, signature: ([UInt8]) throws -> [UInt8]) rethrows -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        return input + "." + Base64URL.encode(try signature(Array(input.utf8)))
    }
}

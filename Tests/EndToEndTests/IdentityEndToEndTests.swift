import Foundation
import Testing

/// Credentials through nginx: API keys, sessions, scopes, revocation, rotation, users and roles.
@Suite(.enabled(if: Stack.isAvailable)) struct IdentityEndToEndTests {
    let client = Stack.client

    @Test func meDescribesTheCaller() throws {
        let response = try Fixtures.admin.get("/api/v1/me")
        #expect(response.status == 200)
        let body = try #require(response.json)
        #expect((body["principal"] as? [String: Any])?["name"] as? String == "admin")
        #expect(body["roles"] as? [String] == ["admin"])
        #expect(body["permissions"] as? [String] == ["*"])
        #expect((body["credential"] as? [String: Any])?["kind"] as? String == "api_key")
        #expect(response.header("RateLimit-Limit") != nil)
        #expect(response.header("RateLimit-Remaining") != nil)
        #expect(response.header("RateLimit-Reset") != nil)
    }

    @Test func missingCredentialsAre401WithAChallenge() throws {
        let response = try client.get("/api/v1/me")
        #expect(response.status == 401)
        #expect(response.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
        #expect(response.json?["type"] as? String == "/problems/unauthenticated")
    }

    @Test func badKeysAreRefusedWithTheirOwnTypes() throws {
        let malformed = try client.get("/api/v1/me", headers: [("Authorization", "Bearer sy_short")])
        #expect(malformed.status == 401)
        #expect(malformed.json?["type"] as? String == "/problems/invalid-credential")
        let unknown = try client.get("/api/v1/me", headers: [("X-API-Key", "sy_" + String(repeating: "A", count: 43))])
        #expect(unknown.status == 401)
        #expect(unknown.json?["type"] as? String == "/problems/invalid-credential")
        // The right prefix with another secret answers exactly like an unknown key.
        let admin = Fixtures.admin.key
        let wrongSecret = String(admin.prefix(12)) + String(repeating: "B", count: 34)
        let forged = try client.get("/api/v1/me", headers: [("Authorization", "Bearer \(wrongSecret)")])
        #expect(forged.status == 401)
        #expect(forged.json?["type"] as? String == "/problems/invalid-credential")
        #expect(forged.json?["detail"] as? String == unknown.json?["detail"] as? String)
        let basic = try client.get("/api/v1/me", headers: [("Authorization", "Basic YWRtaW46YWRtaW4=")])
        #expect(basic.status == 401)
        #expect(basic.header("WWW-Authenticate") != nil)
    }

    @Test func xAPIKeyHeaderAuthenticates() throws {
        let response = try client.get("/api/v1/me", headers: [("X-API-Key", Fixtures.admin.key)])
        #expect(response.status == 200)
    }

    @Test func expiredAndRevokedKeysAreRefused() throws {
        let user = try Fixtures.user("expiry", roles: ["user"])
        let created = try user.post("/api/v1/keys", json: #"{"description":"short","ttl_hours":1}"#)
        #expect(created.status == 201)
        let key = try #require(created.json?["key"] as? String)
        let keyID = try #require(created.json?["key_id"] as? String)
        #expect(try Caller(key: key).get("/api/v1/me").status == 200)
        try Fixtures.sql("UPDATE api_key SET expires_at = now() - interval '1 second' WHERE prefix = '\(keyID)'")
        let expired = try Caller(key: key).get("/api/v1/me")
        #expect(expired.status == 401)
        #expect(expired.json?["type"] as? String == "/problems/expired-credential")

        let second = try #require(try user.post("/api/v1/keys", json: "{}").json?["key"] as? String)
        let secondID = String(second.prefix(12))
        #expect(try user.send("DELETE", "/api/v1/keys/\(secondID)").status == 204)
        let revoked = try Caller(key: second).get("/api/v1/me")
        #expect(revoked.status == 401)
        #expect(revoked.json?["type"] as? String == "/problems/revoked-credential")
    }

    @Test func revocationIsSeenAtOnceByEveryResponder() throws {
        let user = try Fixtures.user("revoke", roles: ["user"])
        let key = try #require(try user.post("/api/v1/keys", json: "{}").json?["key"] as? String)
        let caller = Caller(key: key)
        for _ in 0..<6 { #expect(try caller.get("/api/v1/me").status == 200) }
        #expect(try user.send("DELETE", "/api/v1/keys/\(key.prefix(12))").status == 204)
        // Requests land on both responder processes; none of them may still accept the key.
        for _ in 0..<30 { #expect(try caller.get("/api/v1/me").status == 401) }
    }

    @Test func scopesNarrowAKeyAndCannotExceedTheOwner() throws {
        let user = try Fixtures.user("scopes", roles: ["user"])
        let beyond = try user.post("/api/v1/keys", json: #"{"scopes":["job:read","user:create"]}"#)
        #expect(beyond.status == 400)
        let errors = try #require(beyond.json?["errors"] as? [[String: Any]])
        #expect(errors.first?["field"] as? String == "scopes")
        #expect((errors.first?["message"] as? String)?.contains("user:create") == true)

        let scoped = try user.post("/api/v1/keys", json: #"{"scopes":["job:read"],"description":"read only"}"#)
        #expect(scoped.status == 201)
        #expect(scoped.header("Location")?.hasPrefix("/api/v1/keys/sy_") == true)
        let key = try #require(scoped.json?["key"] as? String)
        let me = try Caller(key: key).get("/api/v1/me")
        #expect(me.json?["permissions"] as? [String] == ["job:read"])
        // A scoped key cannot mint a broader one.
        #expect(try Caller(key: key).post("/api/v1/keys", json: #"{"scopes":["job:create"]}"#).status == 400)
    }

    @Test func aScopedKeyCannotRotateOrRevokeItsOwnersWiderKeys() throws {
        let user = try Fixtures.user("reach", roles: ["researcher"])
        let wideKeyID = String(user.key.prefix(12))
        let narrow = try #require(try user.post("/api/v1/keys", json: #"{"scopes":["job:read"]}"#).json?["key"] as? String)
        let rotated = try Caller(key: narrow).post("/api/v1/keys/rotate", json: #"{"key_id":"\#(wideKeyID)"}"#)
        #expect(rotated.status == 403, "\(rotated.text)")
        #expect(rotated.json?["type"] as? String == "/problems/forbidden")
        #expect(try Caller(key: narrow).send("DELETE", "/api/v1/keys/\(wideKeyID)").status == 403)
        #expect(try user.get("/api/v1/me").status == 200, "the wider key still works, unrotated")
        #expect((try user.get("/api/v1/keys").json?["items"] as? [[String: Any]])?.count == 2, "nothing was issued")

        // Its own key and keys no wider than itself are within its reach; the wider key reaches the narrow one.
        let itself = try Caller(key: narrow).post("/api/v1/keys/rotate", json: "{}")
        #expect(itself.status == 201)
        let replacement = try #require((itself.json?["key"] as? [String: Any])?["key_id"] as? String)
        #expect(try user.send("DELETE", "/api/v1/keys/\(replacement)").status == 204)
    }

    @Test func keyListingNeverShowsSecrets() throws {
        let user = try Fixtures.user("listing", roles: ["user"])
        let key = try #require(try user.post("/api/v1/keys", json: "{}").json?["key"] as? String)
        let listing = try user.get("/api/v1/keys")
        #expect(listing.status == 200)
        #expect(!listing.text.contains(key))
        #expect(!listing.text.contains(user.key))
        let items = try #require(listing.json?["items"] as? [[String: Any]])
        #expect(items.count == 2, "the session key and the new key")
        #expect(items.allSatisfy { $0["key"] == nil && ($0["key_id"] as? String)?.count == 12 })
    }

    @Test func anotherOwnersKeyIsNotFound() throws {
        let alice = try Fixtures.user("owner-a", roles: ["user"])
        let bob = try Fixtures.user("owner-b", roles: ["user"])
        let response = try bob.send("DELETE", "/api/v1/keys/\(alice.key.prefix(12))")
        #expect(response.status == 404)
        #expect(try alice.get("/api/v1/me").status == 200)
    }

    @Test func rotationWithAndWithoutGrace() throws {
        let user = try Fixtures.user("rotate", roles: ["user"])
        let original = try #require(try user.post("/api/v1/keys", json: #"{"description":"ci"}"#).json?["key"] as? String)
        let graceful = try Caller(key: original).post("/api/v1/keys/rotate", json: #"{"grace_seconds":600}"#)
        #expect(graceful.status == 201)
        let replacement = try #require((graceful.json?["key"] as? [String: Any])?["key"] as? String)
        #expect(try Caller(key: original).get("/api/v1/me").status == 200, "still inside the grace period")
        #expect(try Caller(key: replacement).get("/api/v1/me").status == 200)

        let immediate = try Caller(key: replacement).post("/api/v1/keys/rotate", json: "{}")
        #expect(immediate.status == 201)
        let third = try #require((immediate.json?["key"] as? [String: Any])?["key"] as? String)
        let old = try Caller(key: replacement).get("/api/v1/me")
        #expect(old.status == 401)
        #expect(old.json?["type"] as? String == "/problems/revoked-credential")
        #expect(try Caller(key: third).get("/api/v1/me").status == 200)
    }

    @Test func usersAreAdministeredByAdminsOnly() throws {
        let name = Fixtures.uniqueName("managed")
        let created = try Fixtures.admin.post(
            "/api/v1/users", json: #"{"username":"\#(name)","email":"m@example.org","roles":["viewer"],"password":"a long password here"}"#)
        #expect(created.status == 201)
        #expect(created.header("Location") == "/api/v1/users/\(name)")
        let duplicate = try Fixtures.admin.post("/api/v1/users", json: #"{"username":"\#(name)"}"#)
        #expect(duplicate.status == 409)
        let badRole = try Fixtures.admin.post(
            "/api/v1/users", json: #"{"username":"\#(Fixtures.uniqueName("x"))","roles":["no-such-role"]}"#)
        #expect(badRole.status == 400)
        let invalid = try Fixtures.admin.post("/api/v1/users", json: #"{"username":"bad name","email":"nope","surprise":1}"#)
        #expect(invalid.status == 400)
        let fields = Set(((invalid.json?["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String })
        #expect(fields == ["username", "email", "surprise"])

        let user = try Fixtures.user("plain", roles: ["user"])
        #expect(try user.get("/api/v1/users").status == 403)
        #expect(try user.get("/api/v1/users/\(name)").status == 403)

        let fetched = try Fixtures.admin.get("/api/v1/users/\(name)")
        #expect(fetched.json?["roles"] as? [String] == ["viewer"])
        #expect(fetched.json?["password"] == nil && !fetched.text.contains("pbkdf2"))
        let patched = try Fixtures.admin.send("PATCH", "/api/v1/users/\(name)", json: #"{"roles":["operator","viewer"],"display_name":"M"}"#)
        #expect(patched.status == 200)
        #expect(patched.json?["roles"] as? [String] == ["operator", "viewer"])
        #expect(try Fixtures.admin.send("DELETE", "/api/v1/users/\(name)").status == 204)
        #expect(try Fixtures.admin.get("/api/v1/users/\(name)").status == 404)
    }

    @Test func deactivatedPrincipalsCannotAuthenticate() throws {
        let user = try Fixtures.user("deactivate", roles: ["user"])
        #expect(try Fixtures.admin.send("PATCH", "/api/v1/users/\(user.name)", json: #"{"active":false}"#).status == 200)
        let refused = try user.get("/api/v1/me")
        #expect(refused.status == 401)
        #expect(refused.json?["type"] as? String == "/problems/inactive-principal")
    }

    @Test func customRolesAndBuiltinRules() throws {
        let role = "r" + Fixtures.uniqueName("custom").replacingOccurrences(of: "-", with: "")
        let created = try Fixtures.admin.send(
            "PUT", "/api/v1/roles/\(role)", json: #"{"permissions":["job:read","storage:*"],"rate_per_minute":10}"#)
        #expect(created.status == 201)
        #expect(created.json?["permissions"] as? [String] == ["job:read", "storage:*"])
        let builtin = try Fixtures.admin.send("PUT", "/api/v1/roles/viewer", json: #"{"permissions":["*"]}"#)
        #expect(builtin.status == 409)
        let user = try Fixtures.user("custom-role", roles: [role])
        #expect(try user.get("/api/v1/me").json?["permissions"] as? [String] == ["job:read", "storage:*"])
        // A principal's grants are stored on its row; changing the role or the principal's roles must reach it.
        let narrowed = try Fixtures.admin.send("PUT", "/api/v1/roles/\(role)", json: #"{"permissions":["node:read"]}"#)
        #expect(narrowed.status == 200)
        #expect(try user.get("/api/v1/me").json?["permissions"] as? [String] == ["node:read"])
        #expect(try user.get("/api/v1/jobs").status == 403)
        let regranted = try Fixtures.admin.send(
            "PATCH", "/api/v1/users/\(user.name)", json: #"{"roles":["\#(role)","viewer"]}"#)
        #expect(regranted.status == 200)
        #expect(try user.get("/api/v1/me").json?["permissions"] as? [String]
            == ["device:read", "job:read", "node:read", "storage:read"])
        #expect(try Fixtures.admin.send("DELETE", "/api/v1/roles/\(role)").status == 409, "still held by a principal")
        #expect(try Fixtures.admin.send("DELETE", "/api/v1/roles/user").status == 409, "built in")
        #expect(try Fixtures.admin.send("DELETE", "/api/v1/roles/no-such-role").status == 404)
        let roles = try Fixtures.admin.get("/api/v1/roles")
        let items = (roles.json?["items"] as? [[String: Any]]) ?? []
        let names = items.compactMap { $0["name"] as? String }
        #expect(Set(["admin", "operator", "researcher", "user", "viewer", "agent"]).isSubset(of: Set(names)))

        // A built-in role's limits may change when its permissions are sent back as they are, in any order.
        let viewer = try #require(items.first { $0["name"] as? String == "viewer" })
        let permissions = try #require(viewer["permissions"] as? [String])
        var unchanged = viewer.filter { ["description", "rate_per_minute", "rate_per_hour", "rate_burst"].contains($0.key) }
        unchanged["permissions"] = Array(permissions.reversed())
        let body = String(decoding: try JSONSerialization.data(withJSONObject: unchanged), as: UTF8.self)
        let kept = try Fixtures.admin.send("PUT", "/api/v1/roles/viewer", json: body)
        #expect(kept.status == 200)
        #expect(Set(kept.json?["permissions"] as? [String] ?? []) == Set(permissions))
    }
}

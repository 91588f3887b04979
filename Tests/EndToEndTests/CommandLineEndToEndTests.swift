import Foundation
import Testing

/// `switchyardctl` against the live stack: what it does must be what the API then sees.
@Suite(.enabled(if: Stack.isAvailable), .serialized) struct CommandLineEndToEndTests {
    let ctl = Stack.environment["TEST_BIN_DIR"].map { $0 + "/switchyardctl" } ?? ""

    func login(_ name: String, _ password: String) throws -> HTTPResponse {
        try Stack.client.post("/api/v1/auth/login", json: #"{"username":"\#(name)","password":"\#(password)"}"#)
    }

    @Test func userAddAndPasswdSetWhatLoginChecks() throws {
        let name = Fixtures.uniqueName("ctl-user")
        let added = try Stack.run(ctl, ["user", "add", name, "--role", "user", "--password-stdin"], input: "first password 1\n")
        #expect(added.status == 0, "\(added.error)")
        #expect(try login(name, "first password 1").status == 200)

        let changed = try Stack.run(ctl, ["user", "passwd", name], input: "second password 2\n")
        #expect(changed.status == 0, "\(changed.error)")
        #expect(try login(name, "first password 1").status == 401)
        #expect(try login(name, "second password 2").status == 200)

        let unknown = try Stack.run(ctl, ["user", "passwd", Fixtures.uniqueName("nobody")], input: "third password 3\n")
        #expect(unknown.status != 0)
    }

    @Test func keyIssueAndRevoke() throws {
        let user = try Fixtures.user("ctl-key", roles: ["researcher"])
        let issued = try Stack.run(ctl, ["key", "issue", user.name, "--scope", "job:read", "--description", "from ctl"])
        #expect(issued.status == 0, "\(issued.error)")
        let key = issued.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.hasPrefix("sy_"))
        let me = try Caller(key: key).get("/api/v1/me")
        #expect(me.status == 200)
        #expect(me.json?["permissions"] as? [String] == ["job:read"])

        let revoked = try Stack.run(ctl, ["key", "revoke", String(key.prefix(12))])
        #expect(revoked.status == 0, "\(revoked.error)")
        let refused = try Caller(key: key).get("/api/v1/me")
        #expect(refused.status == 401)
        #expect(refused.json?["type"] as? String == "/problems/revoked-credential")
    }

    @Test func auditVerifyFromALinkAndItsMistakes() throws {
        _ = try Stack.run(ctl, ["audit", "seal"])
        // The link before the first row: the same as checking from the start.
        let fromStart = try Stack.run(ctl, ["audit", "verify", "--from", "0:" + String(repeating: "0", count: 64)])
        #expect(fromStart.status == 0, "\(fromStart.output) \(fromStart.error)")
        #expect(fromStart.output.contains("audit chain intact"))
        let wrongLink = try Stack.run(ctl, ["audit", "verify", "--from", "0:" + String(repeating: "7", count: 64)])
        #expect(wrongLink.status == 65, "the first row does not continue that hash: \(wrongLink.output)")
        for malformed in ["12", "x:" + String(repeating: "0", count: 64), "3:abc", "-1:" + String(repeating: "0", count: 64)] {
            let refused = try Stack.run(ctl, ["audit", "verify", "--from=" + malformed])
            #expect(refused.status == 64, "\(malformed)")
            #expect(refused.error.contains("--from must be SEQ:HASH"))
        }
    }

    @Test func tokenGenerateForLocalAndNewSubjects() throws {
        // For a local account the token narrows what the account may do: viewer ∩ user.
        let user = try Fixtures.user("ctl-token", roles: ["user"])
        let local = try Stack.run(ctl, ["token", "generate", "-r", "viewer", "-u", user.name])
        #expect(local.status == 0, "\(local.error)")
        let localMe = try Caller(key: local.output.trimmingCharacters(in: .whitespacesAndNewlines)).get("/api/v1/me")
        #expect(localMe.status == 200, "\(localMe.text)")
        #expect(localMe.json?["permissions"] as? [String] == ["device:read", "job:read"])

        // A new subject is created as an external principal whose rights are its token's.
        let subject = Fixtures.uniqueName("ctl-agent")
        let fresh = try Stack.run(ctl, ["token", "generate", "-r", "agent", "-u", subject, "-p", "node:heartbeat"])
        #expect(fresh.status == 0, "\(fresh.error)")
        let freshMe = try Caller(key: fresh.output.trimmingCharacters(in: .whitespacesAndNewlines)).get("/api/v1/me")
        #expect(freshMe.status == 200, "\(freshMe.text)")
        #expect(freshMe.json?["permissions"] as? [String] == ["node:heartbeat"])
        #expect(try Fixtures.admin.get("/api/v1/users/\(subject)").json?["external"] as? Bool == true)

        let invalid = try Stack.run(ctl, ["token", "generate", "-u", subject, "-p", "not a permission"])
        #expect(invalid.status != 0)
    }
}

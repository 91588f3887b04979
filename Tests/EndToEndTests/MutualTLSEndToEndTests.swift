import Foundation
import Testing

/// Client certificates through nginx's TLS listener, signed by the harness's test CA.
@Suite(.enabled(if: Stack.isAvailable), .serialized) struct MutualTLSEndToEndTests {
    let tls = Stack.environment["TEST_TLS_DIR"] ?? ""
    let ctl = Stack.environment["TEST_BIN_DIR"].map { $0 + "/switchyardctl" } ?? ""

    /// Makes a key and a certificate for `name`: signed by the test CA (optionally with a validity in the past), or
    /// self-signed.
    func certificate(_ name: String, selfSigned: Bool = false, expired: Bool = false) throws -> (cert: String, key: String) {
        // Under the harness's TLS directory, which it removes when the stack stops.
        let directory = tls + "/clients/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let key = directory + "/client.key"
        let cert = directory + "/client.crt"
        let csr = directory + "/client.csr"
        func openssl(_ arguments: [String]) throws {
            let result = try Stack.run("/usr/bin/openssl", arguments)
            guard result.status == 0 else { throw FixtureError.unexpected("openssl \(arguments[0]): \(result.error)") }
        }
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key])
        if selfSigned {
            try openssl(["req", "-x509", "-key", key, "-subj", "/CN=\(name)", "-days", "2", "-out", cert])
            return (cert, key)
        }
        try openssl(["req", "-new", "-key", key, "-subj", "/CN=\(name)", "-out", csr])
        if expired {
            let config = directory + "/ca.cnf"
            try """
            [ ca ]
            default_ca = test
            [ test ]
            database = \(directory)/index.txt
            new_certs_dir = \(directory)
            serial = \(directory)/serial
            default_md = sha256
            policy = anything
            [ anything ]
            commonName = supplied
            """.write(toFile: config, atomically: true, encoding: .utf8)
            try "".write(toFile: directory + "/index.txt", atomically: true, encoding: .utf8)
            try "01\n".write(toFile: directory + "/serial", atomically: true, encoding: .utf8)
            try openssl([
                "ca", "-batch", "-config", config, "-cert", tls + "/client-ca.crt", "-keyfile", tls + "/client-ca.key",
                "-in", csr, "-out", cert, "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-notext",
            ])
        } else {
            try openssl([
                "x509", "-req", "-in", csr, "-CA", tls + "/client-ca.crt", "-CAkey", tls + "/client-ca.key",
                "-CAcreateserial", "-days", "2", "-out", cert,
            ])
        }
        return (cert, key)
    }

    /// GET over TLS with an optional client certificate; returns the status and body.
    func get(_ path: String, cert: (cert: String, key: String)?) throws -> (status: Int, body: String) {
        var arguments = ["-s", "-k", "-w", "\n%{http_code}", Stack.environment["TEST_TLS_BASE_URL"]! + path]
        if let cert { arguments += ["--cert", cert.cert, "--key", cert.key] }
        let result = try Stack.run("/usr/bin/curl", arguments)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test func registeredCertificateAuthenticatesAsItsPrincipal() throws {
        let user = try Fixtures.user("mtls", roles: ["viewer"])
        let identity = try certificate(user.name)
        let registered = try Stack.run(ctl, ["cert", "add", user.name, identity.cert])
        #expect(registered.status == 0, "\(registered.error)")
        let response = try get("/api/v1/me", cert: identity)
        #expect(response.status == 200, "\(response.body)")
        let body = (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [String: Any]
        #expect((body?["principal"] as? [String: Any])?["name"] as? String == user.name)
        #expect((body?["credential"] as? [String: Any])?["kind"] as? String == "certificate")
    }

    @Test func unknownExpiredAndUnverifiedCertificatesDoNot() throws {
        let unknown = try get("/api/v1/me", cert: try certificate("stranger"))
        #expect(unknown.status == 401)
        #expect(unknown.body.contains("/problems/invalid-credential"))
        let expired = try get("/api/v1/me", cert: try certificate("old", expired: true))
        #expect(expired.status == 401)
        let selfSigned = try get("/api/v1/me", cert: try certificate("forger", selfSigned: true))
        #expect(selfSigned.status == 401)
        #expect(selfSigned.body.contains("not verified"))
        #expect(expired.body.contains("/problems/invalid-credential"))
        let none = try get("/api/v1/me", cert: nil)
        #expect(none.status == 401)
        #expect(none.body.contains("/problems/unauthenticated"))
        #expect(try get("/api/v1/health", cert: nil).status == 200)
    }
}

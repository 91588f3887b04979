import Domain
import Glibc
import OpenSSL
import Testing
import Web

@testable import API

/// The JWT negative set, without services: every refused token gets its own failure.
@Suite struct TokenServiceTests {
    let secret = "an HS256 secret of more than 32 bytes for tests"
    let rsa = try! PrivateKey.generate(.rsa(bits: 2048))
    let ec = try! PrivateKey.generate(.ecP256)
    let now = Timestamp(seconds: 1_800_000_000)

    func makeService() throws -> TokenService {
        // A directory per call: tests run in parallel, each with its own keys, and a shared file would be rewritten
        // while another test reads it. The service reads its files when it starts, so they go right after.
        var template = Array("/tmp/switchyard-token-tests-XXXXXX".utf8CString)
        let directory = String(cString: mkdtemp(&template)!)
        var written: [String] = []
        defer {
            written.forEach { unlink($0) }
            rmdir(directory)
        }
        func write(_ name: String, _ text: String) -> String {
            let path = directory + "/" + name
            let file = fopen(path, "w")!
            fputs(text, file)
            fclose(file)
            written.append(path)
            return path
        }
        var config = Configuration()
        config.jwtSecretFile = write("secret", secret)
        config.jwtPublicKeys = [("idp-rsa", write("rsa.pub", rsa.publicKeyPEM)), ("idp-ec", write("ec.pub", ec.publicKeyPEM))]
        config.jwtTrustedIssuers = ["https://idp.test"]
        return try TokenService(config: config)
    }

    func claims(_ extra: [(String, JSON)] = [], issuer: String = "switchyard", expires: Int64? = nil) -> [(String, JSON)] {
        var members: [(String, JSON)] = [
            ("iss", .string(issuer)), ("aud", .string("switchyard")), ("sub", .string("alice")),
            ("exp", .int(expires ?? now.seconds + 600)), ("roles", .array([.string("user")])),
        ]
        for (key, value) in extra {
            members.removeAll { $0.0 == key }
            members.append((key, value))
        }
        return members
    }

    func encode(_ header: [(String, JSON)], _ claims: [(String, JSON)], sign: (String) throws -> [UInt8]) rethrows -> String {
        let input = Base64URL.encode(JSON.object(header).bytes) + "." + Base64URL.encode(JSON.object(claims).bytes)
        return input + "." + Base64URL.encode(try sign(input))
    }

    func hs256(_ claims: [(String, JSON)], key: String? = nil, header: [(String, JSON)]? = nil) -> String {
        encode(header ?? [("alg", .string("HS256")), ("typ", .string("JWT"))], claims) {
            HMACSHA256.authenticationCode(key: Array((key ?? secret).utf8), message: Array($0.utf8))
        }
    }

    func failure(_ token: String) throws -> TokenFailure? {
        let service = try makeService()
        do {
            _ = try service.verify(token, now: now)
            return nil
        } catch {
            return error
        }
    }

    @Test func validHS256TokenVerifies() throws {
        let verified = try makeService().verify(hs256(claims([("jti", .string("j1"))])), now: now)
        #expect(verified.subject == "alice")
        #expect(verified.roles == ["user"])
        #expect(verified.permissions == nil)
        #expect(verified.tokenID == "j1")
    }

    @Test func issuedTokensVerifyAndCarryPermissions() throws {
        let service = try makeService()
        let issued = try service.sign(subject: "bob", roles: ["viewer"], permissions: [Permission(literal: "job:read")], now: now)
        let verified = try service.verify(issued.token, now: now)
        #expect(verified.subject == "bob")
        #expect(verified.permissions == [Permission(literal: "job:read")])
        #expect(verified.expiresAt == issued.expiresAt)
    }

    @Test func validRS256AndES256TokensFromTheTrustedIssuerVerify() throws {
        let service = try makeService()
        let fromIdP = claims(issuer: "https://idp.test")
        let rsaToken = try encode([("alg", .string("RS256")), ("kid", .string("idp-rsa"))], fromIdP) {
            try rsa.sign(message: Array($0.utf8), algorithm: .rs256)
        }
        let ecToken = try encode([("alg", .string("ES256")), ("kid", .string("idp-ec"))], fromIdP) {
            try ec.sign(message: Array($0.utf8), algorithm: .es256)
        }
        #expect(try service.verify(rsaToken, now: now).subject == "alice")
        #expect(try service.verify(ecToken, now: now).subject == "alice")
    }

    @Test func algNoneIsRefused() throws {
        let token = Base64URL.encode(JSON.object([("alg", .string("none"))]).bytes) + "."
            + Base64URL.encode(JSON.object(claims()).bytes) + "."
        #expect(try failure(token) == .malformed("expected three segments"))
        let withSignature = encode([("alg", .string("none"))], claims()) { _ in [1] }
        #expect(try failure(withSignature) == .badSignature("algorithm none is not accepted"))
    }

    @Test func wrongSecretIsRefused() throws {
        let token = hs256(claims(), key: "some other secret that is also long enough")
        guard case .badSignature = try failure(token) else {
            Issue.record("expected a bad signature")
            return
        }
    }

    @Test func publicKeyUsedAsHMACSecretIsRefused() throws {
        // Algorithm confusion: an attacker signs HS256 with the public key's text and names the RSA key.
        let header: [(String, JSON)] = [("alg", .string("HS256")), ("kid", .string("idp-rsa"))]
        let token = hs256(claims(), key: rsa.publicKeyPEM, header: header)
        #expect(try failure(token) == .badSignature("kid names a public key, not the HS256 secret"))
        let withoutKid = hs256(claims(), key: rsa.publicKeyPEM)
        guard case .badSignature = try failure(withoutKid) else {
            Issue.record("expected a bad signature")
            return
        }
    }

    @Test func keyOfTheWrongFamilyIsRefused() throws {
        let token = try encode([("alg", .string("ES256")), ("kid", .string("idp-rsa"))], claims(issuer: "https://idp.test")) {
            try ec.sign(message: Array($0.utf8), algorithm: .es256)
        }
        guard case .badSignature = try failure(token) else {
            Issue.record("expected a bad signature")
            return
        }
    }

    @Test func unknownKidIsRefused() throws {
        let token = try encode([("alg", .string("RS256")), ("kid", .string("nobody"))], claims(issuer: "https://idp.test")) {
            try rsa.sign(message: Array($0.utf8), algorithm: .rs256)
        }
        #expect(try failure(token) == .badSignature("unknown kid"))
    }

    @Test func expiredAndNotYetValidTokensAreRefused() throws {
        #expect(try failure(hs256(claims(expires: now.seconds - 31))) == .expired)
        #expect(try failure(hs256(claims(expires: now.seconds - 29))) == nil, "within the leeway")
        #expect(try failure(hs256(claims([("nbf", .int(now.seconds + 120))]))) == .claimsRejected("not valid yet (nbf)"))
        #expect(try failure(hs256(claims([("exp", .string("soon"))]))) == .malformed("exp is missing or not a number"))
    }

    @Test func wrongAudienceOrIssuerIsRefused() throws {
        #expect(
            try failure(hs256(claims([("aud", .string("someone-else"))])))
                == .claimsRejected("audience does not include switchyard"))
        #expect(try failure(hs256(claims([("aud", .array([.string("x"), .string("switchyard")]))]))) == nil)
        #expect(try failure(hs256(claims(issuer: "https://idp.test"))) == .claimsRejected("issuer not trusted"))
        let rsaFromUs = try encode([("alg", .string("RS256")), ("kid", .string("idp-rsa"))], claims(issuer: "evil")) {
            try rsa.sign(message: Array($0.utf8), algorithm: .rs256)
        }
        #expect(try failure(rsaFromUs) == .claimsRejected("issuer not trusted"))
    }

    @Test func malformedTokensAreRefused() throws {
        #expect(try failure("not a token") == .malformed("expected three segments"))
        #expect(try failure("a.b") == .malformed("expected three segments"))
        #expect(try failure("@@@.###.$$$") == .malformed("a segment is not base64url"))
        let notJSON = Base64URL.encode(Array("hello".utf8))
        #expect(try failure("\(notJSON).\(notJSON).\(notJSON)") == .malformed("the header is not a JSON object"))
        let huge = hs256(claims([("padding", .string(String(repeating: "x", count: 9000)))]))
        #expect(try failure(huge) == .malformed("longer than 8192 bytes"))
        #expect(
            try failure(hs256(claims([("sub", .string("bad name!"))]))) == .malformed("sub is missing or not a valid principal name"))
        #expect(
            try failure(hs256(claims([("permissions", .array([.string("NOT A PERMISSION")]))])))
                == .claimsRejected("permissions is not a list of permission strings"))
    }
}

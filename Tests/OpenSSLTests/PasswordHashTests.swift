import OpenSSL
import Testing

@Suite struct PasswordHashTests {
    @Test func roundTrip() throws {
        let encoded = try PasswordHash.make(password: "correct horse battery staple", iterations: 1_000)
        #expect(PasswordHash.verify(password: "correct horse battery staple", against: encoded))
        #expect(!PasswordHash.verify(password: "correct horse battery stapler", against: encoded))
        #expect(!PasswordHash.verify(password: "", against: encoded))
        #expect(PasswordHash.iterations(of: encoded) == 1_000)
    }

    @Test func format() throws {
        let encoded = try PasswordHash.make(password: "pässwörd", iterations: 1_234, saltCount: 24)
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        try #require(fields.count == 4)
        #expect(fields[0] == "pbkdf2-sha256")
        #expect(fields[1] == "1234")
        #expect(Base64URL.decode(fields[2])?.count == 24)
        let salt = try #require(Base64URL.decode(fields[2]))
        let key = try PBKDF2HMACSHA256.deriveKey(password: "pässwörd".utf8, salt: salt, iterations: 1_234, count: 32)
        #expect(Base64URL.decode(fields[3]) == key)
    }

    @Test func saltsDiffer() throws {
        let first = try PasswordHash.make(password: "same", iterations: 1_000)
        let second = try PasswordHash.make(password: "same", iterations: 1_000)
        #expect(first != second)
    }

    /// Hashes computed independently with Python's `hashlib.pbkdf2_hmac` (salt "saltsalt", 1000 iterations) verify.
    @Test func knownHashes() {
        let hunter2 = "pbkdf2-sha256$1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA"
        #expect(PasswordHash.verify(password: "hunter2", against: hunter2))
        #expect(!PasswordHash.verify(password: "hunter3", against: hunter2))
        let unicode = "pbkdf2-sha256$1000$c2FsdHNhbHQ$48x5uCaVNWWLVkyLaRqhNAqjN-vMTFM9KOF0XuPOdR0"
        #expect(PasswordHash.verify(password: "pässwörd", against: unicode))
    }

    @Test func defaultCost() throws {
        let encoded = try PasswordHash.make(password: "p")
        #expect(PasswordHash.iterations(of: encoded) == PasswordHash.defaultIterations)
        #expect(PasswordHash.verify(password: "p", against: encoded))
    }

    /// The dummy is well-formed at the cost asked for, so verifying against it spends what a real hash of that
    /// cost would; no password matches it.
    @Test(arguments: [100_000, PasswordHash.defaultIterations]) func dummy(iterations: Int) {
        let dummy = PasswordHash.dummy(iterations: iterations)
        #expect(PasswordHash.iterations(of: dummy) == iterations)
        #expect(!PasswordHash.verify(password: "", against: dummy))
        #expect(!PasswordHash.verify(password: "password", against: dummy))
    }

    @Test(arguments: [
        "",
        "pbkdf2-sha256$1000$c2FsdHNhbHQ",
        "pbkdf2-sha256$1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA$",
        " pbkdf2-sha256$1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "pbkdf2-sha512$1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "PBKDF2-SHA256$1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "pbkdf2-sha256$999$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "pbkdf2-sha256$10000001$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "pbkdf2-sha256$01000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "pbkdf2-sha256$+1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "pbkdf2-sha256$-1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "pbkdf2-sha256$$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "pbkdf2-sha256$1000$$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "pbkdf2-sha256$1000$c2FsdDdjaA$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",  // 7-byte salt
        "pbkdf2-sha256$1000$c2FsdHNhbHQ=$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "pbkdf2-sha256$1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeg",  // 31-byte key
        "pbkdf2-sha256$1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiAA",  // 33-byte key
        "pbkdf2-sha256$1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA=",
        "pbkdf2-sha256$1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq+eFeiA",
        "pbkdf2-sha256$1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiB",  // non-zero trailing bits
    ])
    func malformed(encoded: String) {
        #expect(PasswordHash.iterations(of: encoded) == nil)
        #expect(!PasswordHash.verify(password: "hunter2", against: encoded))
    }

    /// Changing any part of a valid hash, keeping it well-formed, makes the right password fail.
    @Test(arguments: [
        "pbkdf2-sha256$1001$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "pbkdf2-sha256$1000$c2FsdHNhbHU$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
        "pbkdf2-sha256$1000$c2FsdHNhbHQ$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiE",
        "pbkdf2-sha256$1000$c2FsdHNhbHQ$yGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq-eFeiA",
    ])
    func tampered(encoded: String) {
        #expect(PasswordHash.iterations(of: encoded) != nil)
        #expect(!PasswordHash.verify(password: "hunter2", against: encoded))
    }
}

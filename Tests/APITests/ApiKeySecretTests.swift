import OpenSSL
import Testing

@testable import API

@Suite struct ApiKeySecretTests {
    @Test func generatedKeysParseBackToTheirPrefixAndHash() throws {
        let (key, prefix, hash) = try ApiKeySecret.generate()
        #expect(key.hasPrefix("sy_"))
        #expect(key.count == 46)
        #expect(prefix == String(key.prefix(12)))
        #expect(hash == SHA256.hash(key))
        let parsed = try #require(ApiKeySecret.parse(key))
        #expect(parsed.prefix == prefix)
        #expect(parsed.hash == hash)
    }

    @Test func keysAreDifferentEachTime() throws {
        let keys = try (0..<100).map { _ in try ApiKeySecret.generate().key }
        #expect(Set(keys).count == 100)
    }

    @Test(arguments: ["", "sy_", "xy_" + String(repeating: "a", count: 43), "sy_" + String(repeating: "a", count: 42),
        "sy_" + String(repeating: "a", count: 44), "sy_" + String(repeating: "a", count: 42) + "=", "sy_" + String(repeating: "é", count: 43)])
    func malformedKeysAreRefused(_ text: String) {
        #expect(ApiKeySecret.parse(text) == nil)
    }
}

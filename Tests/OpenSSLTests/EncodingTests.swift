import OpenSSL
import Testing

@Suite struct Base64URLTests {
    /// RFC 4648 §10 vectors; in base64url without padding, plus bytes that use the two alphabet-specific characters.
    @Test(arguments: [
        ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648(text: String, encoded: String) {
        #expect(Base64URL.encode(text.utf8) == encoded)
        #expect(Base64URL.decode(encoded) == Array(text.utf8))
    }

    @Test func urlSafeAlphabet() {
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
        #expect(Base64URL.decode("+/+/") == nil)
    }

    @Test(arguments: 0...10)
    func roundTripAllLengths(count: Int) {
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 200) }
        let encoded = Base64URL.encode(bytes)
        #expect(encoded.utf8.count == (count * 8 + 5) / 6)
        #expect(!encoded.contains("="))
        #expect(Base64URL.decode(encoded) == bytes)
        #expect(Base64URL.decode(Substring(encoded)) == bytes)
    }

    @Test(arguments: [
        "Zg==", "Zm8=", "Zg=", "=", "Zm9v=",  // padding is not accepted
        "Z", "Zm9vY", "Zm9vYmFyZ",  // length % 4 == 1 cannot be produced
        "Zh", "Zm9", "Zm9vYh", "Zm9vYmF",  // non-zero unused trailing bits
        "Zm 9v", "Zm9v\n", " Zm9v", "Zm.v", "Zm9v!", "Zm9ü",  // characters outside the alphabet
    ])
    func rejectsInvalid(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }
}

@Suite struct Base64Tests {
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648(text: String, encoded: String) {
        #expect(Base64.encode(text.utf8) == encoded)
        #expect(Base64.decode(encoded) == Array(text.utf8))
    }

    @Test func standardAlphabet() {
        #expect(Base64.encode([0xFB, 0xFF, 0xBF]) == "+/+/")
        #expect(Base64.decode("+/+/") == [0xFB, 0xFF, 0xBF])
        #expect(Base64.decode("-_-_") == nil)
    }

    @Test(arguments: 0...10)
    func roundTripAllLengths(count: Int) {
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 200) }
        let encoded = Base64.encode(bytes)
        #expect(encoded.utf8.count == (count + 2) / 3 * 4)
        #expect(Base64.decode(encoded) == bytes)
    }

    @Test(arguments: [
        "Zg", "Zm8", "Zg=", "Zm9vYg=",  // missing padding
        "Zg===", "Z===", "====", "Zm9v====", "=Zm9", "Zm=v", "Zg==Zg==",  // misplaced or excess padding
        "Zh==", "Zm9=",  // non-zero unused trailing bits
        "Zm9v\n", "Zm 9v",  // characters outside the alphabet
    ])
    func rejectsInvalid(text: String) {
        #expect(Base64.decode(text) == nil)
    }
}

@Suite struct HexTests {
    @Test func encodeAndDecode() {
        #expect(Hex.encode([]) == "")
        #expect(Hex.encode([0x00, 0x0F, 0xA5, 0xFF]) == "000fa5ff")
        #expect(Hex.decode("000fa5ff") == [0x00, 0x0F, 0xA5, 0xFF])
        #expect(Hex.decode("000FA5FF") == [0x00, 0x0F, 0xA5, 0xFF])
        #expect(Hex.decode("") == [])
    }

    @Test(arguments: ["0", "abc", "0g", "zz", " 00", "00:11", "0x00"])
    func rejectsInvalid(text: String) {
        #expect(Hex.decode(text) == nil)
    }
}

import OpenSSL

/// The text of an API key: `sy_` and 43 base64url characters (32 random bytes from OpenSSL).
///
/// The first 12 characters are the key's public id (prefix) that listings show and revocation names; the
/// database keeps only the SHA-256 of the whole text. The prefix gives away 54 of the 256 random bits.
public enum ApiKeySecret {
    public static let marker = "sy_"
    static let textLength = 46
    static let prefixLength = 12

    /// A new key, its prefix and the hash to store. The key text is shown once and never stored.
    public static func generate() throws -> (key: String, prefix: String, hash: [UInt8]) {
        let key = marker + Base64URL.encode(try SecureRandom.bytes(count: 32))
        return (key, String(key.prefix(prefixLength)), SHA256.hash(key))
    }

    /// The prefix and hash of a presented key, or nil when the text is not shaped like a key.
    public static func parse(_ text: String) -> (prefix: String, hash: [UInt8])? {
        let bytes = Array(text.utf8)
        guard bytes.count == textLength, text.hasPrefix(marker),
            bytes.dropFirst(marker.utf8.count).allSatisfy(isBase64URL)
        else { return nil }
        return (String(text.prefix(prefixLength)), SHA256.hash(bytes))
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        (65...90).contains(byte) || (97...122).contains(byte) || (48...57).contains(byte) || byte == 45 || byte == 95
    }
}

import CLibCrypto

/// Cryptographically secure random bytes from OpenSSL's DRBG.
///
/// The one source for salts, tokens and nonces, so none of them ever come from a predictable generator.
public enum SecureRandom {
    /// Returns `count` random bytes; throws `OpenSSLError` if the generator cannot be seeded.
    public static func bytes(count: Int) throws -> [UInt8] {
        precondition(count >= 0 && count <= Int32.max, "byte count out of range")
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw OpenSSLError("SecureRandom.bytes") }
        return bytes
    }
}

/// Comparison of secrets whose duration does not depend on where they differ.
///
/// An ordinary `==` stops at the first differing byte, which lets an attacker guess a MAC or token byte by byte.
public enum ConstantTime {
    /// Whether `a` and `b` are equal, in time that depends only on their lengths.
    ///
    /// Arrays of different lengths are unequal at once: lengths are public (a MAC's is fixed by its algorithm),
    /// only the content is secret.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 }
        }
    }
}

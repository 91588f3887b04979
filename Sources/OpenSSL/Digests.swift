import CLibCrypto

/// SHA-256 (FIPS 180-4).
///
/// One-shot hashing through libcrypto's assembly implementation with a pre-fetched algorithm, because it runs on
/// every request.
public enum SHA256 {
    /// The 32-byte SHA-256 digest of `bytes`.
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        bytes.withContiguousBytes { input in
            [UInt8](unsafeUninitializedCapacity: Int(SHA256_DIGEST_LENGTH)) { digest, count in
                var length: UInt32 = 0
                let result = EVP_Digest(
                    input.baseAddress, input.count, digest.baseAddress, &length, sha256Algorithm, nil)
                precondition(result == 1, "SHA-256 failed")
                count = Int(length)
            }
        }
    }

    /// The 32-byte SHA-256 digest of the UTF-8 encoding of `string`.
    public static func hash(_ string: String) -> [UInt8] {
        hash(string.utf8)
    }
}

/// HMAC with SHA-256 (RFC 2104, RFC 4231).
///
/// Used for tokens and signatures the server both issues and checks, where a shared key is enough.
public enum HMACSHA256 {
    /// The 32-byte HMAC-SHA256 of `message` under `key`; compare it with `ConstantTime.equals`.
    public static func authenticationCode(key: [UInt8], message: some Collection<UInt8>) -> [UInt8] {
        key.withUnsafeBufferPointer { key in
            message.withContiguousBytes { message in
                [UInt8](unsafeUninitializedCapacity: Int(EVP_MAX_MD_SIZE)) { mac, count in
                    var length: UInt32 = 0
                    let result = HMAC(
                        sha256Algorithm, key.baseAddress, Int32(key.count), message.baseAddress, message.count,
                        mac.baseAddress, &length)
                    precondition(result != nil, "HMAC-SHA256 failed")
                    count = Int(length)
                }
            }
        }
    }
}

/// PBKDF2 with HMAC-SHA256 as its pseudorandom function (RFC 8018).
///
/// The primitive under `PasswordHash`; public so that its known-answer vectors can be checked directly.
public enum PBKDF2HMACSHA256 {
    /// Derives `count` bytes from `password` and `salt` with `iterations` rounds (both positive).
    ///
    /// Throws `OpenSSLError` if libcrypto fails, which in practice means it ran out of memory.
    public static func deriveKey(password: some Collection<UInt8>, salt: [UInt8], iterations: Int, count: Int) throws
        -> [UInt8]
    {
        precondition(iterations > 0 && iterations <= Int32.max && count > 0 && count <= Int32.max)
        return try password.withContiguousBytes { password in
            try salt.withUnsafeBufferPointer { salt in
                var key = [UInt8](repeating: 0, count: count)
                let result = password.withMemoryRebound(to: CChar.self) { password in
                    PKCS5_PBKDF2_HMAC(
                        password.baseAddress, Int32(password.count), salt.baseAddress, Int32(salt.count),
                        Int32(iterations), sha256Algorithm, Int32(count), &key)
                }
                guard result == 1 else { throw OpenSSLError("PBKDF2HMACSHA256.deriveKey") }
                return key
            }
        }
    }
}

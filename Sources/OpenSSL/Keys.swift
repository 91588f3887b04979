import CLibCrypto

/// The JWS signature algorithms accepted for tokens (RFC 7518 §3).
///
/// Deliberately only the two asymmetric ones in common use: no `none`, and no HMAC, so a public key can never be
/// misused as an HMAC secret.
public enum SignatureAlgorithm: String, Sendable, CaseIterable {
    /// RSASSA-PKCS1-v1_5 with SHA-256, on RSA keys of at least 2048 bits.
    case rs256 = "RS256"
    /// ECDSA on P-256 with SHA-256; signatures are the raw 64-byte `r || s`.
    case es256 = "ES256"
}

/// The kind of an asymmetric key, as far as token signatures care.
///
/// A verifier checks it against the token's algorithm so that a key is only ever used with the one algorithm it
/// was made for.
public enum KeyFamily: Sendable, Hashable {
    /// An RSA key (PKCS #1 padding, not RSA-PSS-restricted) of the given modulus size.
    case rsa(bits: Int)
    /// An elliptic-curve key on NIST P-256 (prime256v1, secp256r1).
    case ecP256
    /// Any other key: other curves, Ed25519, DSA, RSA-PSS, and so on.
    case other
}

/// A public key for verifying JWS signatures, from an SPKI PEM or the key of an X.509 certificate PEM.
///
/// Immutable once loaded, so one instance can verify on any number of threads at once.
public struct PublicKey: @unchecked Sendable {
    private let key: EVPKey

    /// The key's family, which decides the one algorithm it verifies.
    public var family: KeyFamily { key.family }

    /// Loads the first `PUBLIC KEY` block of `pem`, or failing that the key of its first `CERTIFICATE` block.
    ///
    /// Throws `OpenSSLError` if there is neither.
    public init(pem: String) throws {
        let key = withReadBIO(pem) { PEM_read_bio_PUBKEY($0, nil, refusePassphrase, nil) }
            ?? withReadBIO(pem) { bio in
                PEM_read_bio_X509(bio, nil, refusePassphrase, nil).flatMap { certificate in
                    defer { X509_free(certificate) }
                    return X509_get_pubkey(certificate)
                }
            }
        guard let key else { throw OpenSSLError("PublicKey.init(pem:)") }
        ERR_clear_error()  // The failed first attempt of a certificate PEM left its reason behind.
        self.key = EVPKey(key)
    }

    /// Whether `signature` is a valid JWS signature of `message` by this key under `algorithm`.
    ///
    /// False whenever the key's family does not match the algorithm (an EC key for RS256, an RSA key for ES256,
    /// RSA under 2048 bits), which is what defeats algorithm-confusion attacks.
    public func verify(signature: [UInt8], message: some Collection<UInt8>, algorithm: SignatureAlgorithm) -> Bool {
        guard key.family.permits(algorithm) else { return false }
        let encoded = algorithm == .es256 ? derSignature(fromJWS: signature) : signature
        guard let encoded, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        let valid = message.withContiguousBytes { message in
            EVP_DigestVerifyInit(context, nil, sha256Algorithm, nil, key.pointer) == 1
                && EVP_DigestVerify(context, encoded, encoded.count, message.baseAddress, message.count) == 1
        }
        if !valid { ERR_clear_error() }
        return valid
    }
}

/// A private key for signing JWS tokens.
///
/// For the tokens the control plane issues itself, and for tests and tooling that need a key pair.
public struct PrivateKey: @unchecked Sendable {
    /// The kinds of key `generate` makes.
    public enum Kind: Sendable, Hashable {
        /// RSA with the given modulus size; RS256 signing needs at least 2048.
        case rsa(bits: Int)
        /// EC on NIST P-256, for ES256.
        case ecP256
    }

    private let key: EVPKey

    /// The key's family, which decides the one algorithm it signs with.
    public var family: KeyFamily { key.family }

    /// Loads the first private key of `pem`: PKCS #8 `PRIVATE KEY`, or traditional `RSA PRIVATE KEY` /
    /// `EC PRIVATE KEY`.
    ///
    /// Throws `OpenSSLError` if there is none; encrypted keys are refused rather than prompting for a passphrase.
    public init(pem: String) throws {
        guard let key = withReadBIO(pem, { PEM_read_bio_PrivateKey($0, nil, refusePassphrase, nil) }) else {
            throw OpenSSLError("PrivateKey.init(pem:)")
        }
        self.key = EVPKey(key)
    }

    private init(_ key: EVPKey) {
        self.key = key
    }

    /// Generates a new random key; throws `OpenSSLError` if OpenSSL refuses the parameters.
    public static func generate(_ kind: Kind) throws -> PrivateKey {
        let name = switch kind {
        case .rsa: "RSA"
        case .ecP256: "EC"
        }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, name, nil) else {
            throw OpenSSLError("PrivateKey.generate")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else { throw OpenSSLError("PrivateKey.generate") }
        let configured = switch kind {
        case .rsa(let bits): EVP_PKEY_CTX_set_rsa_keygen_bits(context, Int32(clamping: bits))
        case .ecP256: EVP_PKEY_CTX_set_group_name(context, "P-256")
        }
        var key: OpaquePointer?
        guard configured == 1, EVP_PKEY_generate(context, &key) == 1, let key else {
            throw OpenSSLError("PrivateKey.generate")
        }
        return PrivateKey(EVPKey(key))
    }

    /// The matching public key as an SPKI `PUBLIC KEY` PEM, for `PublicKey(pem:)` or a verifier's configuration.
    public var publicKeyPEM: String {
        guard let pem = writingToBIO({ PEM_write_bio_PUBKEY($0, key.pointer) == 1 }) else {
            fatalError("writing a public key to memory failed: \(OpenSSLError("PrivateKey.publicKeyPEM"))")
        }
        return pem
    }

    /// The key as an unencrypted PKCS #8 `PRIVATE KEY` PEM, for tooling that generates and stores keys.
    public var pem: String {
        guard let pem = writingToBIO({ PEM_write_bio_PrivateKey($0, key.pointer, nil, nil, 0, nil, nil) == 1 }) else {
            fatalError("writing a private key to memory failed: \(OpenSSLError("PrivateKey.pem"))")
        }
        return pem
    }

    /// The JWS signature of `message` under `algorithm`: for ES256 the raw `r || s`, each left-padded to 32 bytes.
    ///
    /// Throws `OpenSSLError` if the key's family does not match the algorithm, or if signing fails.
    public func sign(message: some Collection<UInt8>, algorithm: SignatureAlgorithm) throws -> [UInt8] {
        guard key.family.permits(algorithm) else {
            throw OpenSSLError("PrivateKey.sign", reasons: ["\(key.family) key cannot sign \(algorithm.rawValue)"])
        }
        guard let context = EVP_MD_CTX_new() else { throw OpenSSLError("PrivateKey.sign") }
        defer { EVP_MD_CTX_free(context) }
        var count = Int(EVP_PKEY_get_size(key.pointer))
        var signature = [UInt8](repeating: 0, count: count)
        let signed = message.withContiguousBytes { message in
            EVP_DigestSignInit(context, nil, sha256Algorithm, nil, key.pointer) == 1
                && EVP_DigestSign(context, &signature, &count, message.baseAddress, message.count) == 1
        }
        guard signed else { throw OpenSSLError("PrivateKey.sign") }
        signature.removeLast(signature.count - count)
        guard algorithm == .es256 else { return signature }
        guard let raw = jwsSignature(fromDER: signature) else { throw OpenSSLError("PrivateKey.sign") }
        return raw
    }
}

/// Owns one reference to an `EVP_PKEY` and releases it when the last copy of its key struct goes away.
private final class EVPKey {
    let pointer: OpaquePointer
    let family: KeyFamily

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
        family = Self.family(of: pointer)
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    private static func family(of key: OpaquePointer) -> KeyFamily {
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_RSA:
            return .rsa(bits: Int(EVP_PKEY_get_bits(key)))
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 64)
            guard EVP_PKEY_get_group_name(key, &name, name.count, nil) == 1 else { return .other }
            return OBJ_sn2nid(name) == NID_X9_62_prime256v1 ? .ecP256 : .other
        default:
            return .other
        }
    }
}

extension KeyFamily {
    /// Whether a key of this family may be used with `algorithm`.
    fileprivate func permits(_ algorithm: SignatureAlgorithm) -> Bool {
        switch (self, algorithm) {
        case (.rsa(let bits), .rs256): bits >= 2048
        case (.ecP256, .es256): true
        default: false
        }
    }
}

/// Converts a JWS ES256 signature (`r || s`, 32 bytes each) to the DER `ECDSA-Sig-Value` OpenSSL verifies.
private func derSignature(fromJWS raw: [UInt8]) -> [UInt8]? {
    guard raw.count == 64, let signature = ECDSA_SIG_new() else { return nil }
    defer { ECDSA_SIG_free(signature) }
    let halves = raw.withUnsafeBufferPointer { raw in
        (BN_bin2bn(raw.baseAddress, 32, nil), BN_bin2bn(raw.baseAddress! + 32, 32, nil))
    }
    guard let r = halves.0, let s = halves.1, ECDSA_SIG_set0(signature, r, s) == 1 else {
        BN_free(halves.0)
        BN_free(halves.1)
        return nil
    }
    let count = i2d_ECDSA_SIG(signature, nil)
    guard count > 0 else { return nil }
    var der = [UInt8](repeating: 0, count: Int(count))
    let written = der.withUnsafeMutableBufferPointer { buffer in
        var cursor = buffer.baseAddress
        return i2d_ECDSA_SIG(signature, &cursor)
    }
    return written == count ? der : nil
}

/// Converts a DER `ECDSA-Sig-Value` from OpenSSL to the JWS form, `r || s` left-padded to 32 bytes each.
private func jwsSignature(fromDER der: [UInt8]) -> [UInt8]? {
    let signature = der.withUnsafeBufferPointer { buffer in
        var cursor = buffer.baseAddress
        return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
    }
    guard let signature else { return nil }
    defer { ECDSA_SIG_free(signature) }
    var raw = [UInt8](repeating: 0, count: 64)
    let padded = raw.withUnsafeMutableBufferPointer { raw in
        BN_bn2binpad(ECDSA_SIG_get0_r(signature), raw.baseAddress, 32) == 32
            && BN_bn2binpad(ECDSA_SIG_get0_s(signature), raw.baseAddress! + 32, 32) == 32
    }
    return padded ? raw : nil
}

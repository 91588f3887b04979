import Domain
import OpenSSL
import Web

/// The claims of a verified token that authentication uses.
struct TokenClaims: Equatable {
    let subject: String
    let roles: [String]
    /// When present, exactly what the token may do (no role expansion).
    let permissions: [Permission]?
    let expiresAt: Timestamp
    let tokenID: String?
    /// Signed by an identity provider's key rather than Switchyard's own secret.
    let isFromIdentityProvider: Bool
    /// The id of the API key a token of Switchyard's own was made with (claim `key`): the token ends with it.
    let issuingKey: String?
}

/// Why a token was refused; each maps to its own problem type.
enum TokenFailure: Error, Equatable {
    /// Not three base64url segments of JSON, too large, or missing required claims.
    case malformed(String)
    /// `alg: none`, an unknown or mismatched algorithm, an unknown `kid`, or a signature that does not verify.
    case badSignature(String)
    case expired
    /// Not yet valid, wrong issuer or audience.
    case claimsRejected(String)

    var problem: Problem {
        switch self {
        case .malformed(let reason):
            .unauthenticated(.invalidCredential, detail: "The token is malformed: \(reason).", error: "invalid_token")
        case .badSignature(let reason):
            .unauthenticated(.invalidSignature, detail: "The token's signature is not accepted: \(reason).", error: "invalid_token")
        case .expired:
            .unauthenticated(.expiredCredential, detail: "The token has expired.", error: "invalid_token")
        case .claimsRejected(let reason):
            .unauthenticated(.invalidClaims, detail: "The token's claims are not accepted: \(reason).", error: "invalid_token")
        }
    }

    /// The audit trail's reason.
    var reason: String {
        switch self {
        case .malformed: "token-malformed"
        case .badSignature: "token-signature"
        case .expired: "token-expired"
        case .claimsRejected: "token-claims"
        }
    }
}

/// JSON Web Tokens (RFC 7519, JWS compact form): HS256 with the configured secret, which Switchyard also signs
/// with, and RS256/ES256 verified against an identity provider's public keys.
///
/// The key decides the algorithm, never the token: the HS256 secret is only ever used for `alg: HS256` without a
/// public key's `kid`, and a public key only for the one algorithm of its family. That closes algorithm confusion
/// (a public key used as an HMAC secret) and `alg: none`.
struct TokenService: Sendable {
    /// Tokens larger than this are refused before any parsing.
    static let maximumLength = 8192
    private let secret: [UInt8]?
    private let publicKeys: [String: PublicKey]
    private let issuer: String
    private let trustedIssuers: Set<String>
    private let audience: String
    private let leewaySeconds: Int64
    let lifetimeSeconds: Int64

    /// Loads the key material the configuration names; every unreadable or unusable key is a configuration error.
    init(config: Configuration) throws(ConfigError) {
        var problems: [String] = []
        var secret: [UInt8]?
        if let path = config.jwtSecretFile {
            if let text = TextFile.read(path) {
                let bytes = Array(text.utf8).filter { $0 != 0x0A && $0 != 0x0D }
                if bytes.count >= 32 { secret = bytes } else { problems.append("jwt-secret-file: \(path) holds fewer than 32 bytes") }
            } else {
                problems.append("jwt-secret-file: cannot read \(path)")
            }
        }
        var keys: [String: PublicKey] = [:]
        for (keyID, path) in config.jwtPublicKeys {
            guard let pem = TextFile.read(path) else {
                problems.append("jwt-public-keys: cannot read \(path)")
                continue
            }
            do {
                let key = try PublicKey(pem: pem)
                switch key.family {
                case .rsa(let bits) where bits >= 2048: keys[keyID] = key
                case .ecP256: keys[keyID] = key
                default: problems.append("jwt-public-keys: \(path) is neither an RSA key of 2048 bits or more nor a P-256 key")
                }
            } catch {
                problems.append("jwt-public-keys: \(path) is not a PEM public key or certificate")
            }
        }
        if !problems.isEmpty { throw ConfigError(problems: problems) }
        self.secret = secret
        self.publicKeys = keys
        self.issuer = config.jwtIssuer
        self.trustedIssuers = Set(config.jwtTrustedIssuers.isEmpty ? [config.jwtIssuer] : config.jwtTrustedIssuers)
        self.audience = config.jwtAudience
        self.leewaySeconds = Int64(config.jwtLeewaySeconds)
        self.lifetimeSeconds = Int64(config.jwtTTLSeconds)
    }

    /// True when this installation can sign tokens (`jwt-secret-file` is set).
    var canSign: Bool { secret != nil }

    /// Verifies signature and claims; returns what authentication needs.
    func verify(_ token: String, now: Timestamp) throws(TokenFailure) -> TokenClaims {
        guard token.utf8.count <= Self.maximumLength else { throw .malformed("longer than \(Self.maximumLength) bytes") }
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, segments.allSatisfy({ !$0.isEmpty }) else { throw .malformed("expected three segments") }
        guard let headerBytes = Base64URL.decode(segments[0]), let payloadBytes = Base64URL.decode(segments[1]),
            let signature = Base64URL.decode(segments[2])
        else { throw .malformed("a segment is not base64url") }
        guard let header = try? JSON.parse(headerBytes), header.objectValue != nil else {
            throw .malformed("the header is not a JSON object")
        }
        guard let algorithm = header["alg"]?.stringValue else { throw .malformed("the header has no alg") }
        let keyID = header["kid"]?.stringValue
        let signingInput = Array(token.utf8.prefix(segments[0].utf8.count + 1 + segments[1].utf8.count))
        let allowedIssuers: Set<String>
        switch algorithm {
        case "HS256":
            guard let secret else { throw .badSignature("HS256 tokens are not accepted here") }
            if let keyID {
                // Switchyard's own tokens carry no kid; any other names a key this installation does not have.
                throw .badSignature(publicKeys[keyID] != nil ? "kid names a public key, not the HS256 secret" : "unknown kid")
            }
            let expected = HMACSHA256.authenticationCode(key: secret, message: signingInput)
            guard ConstantTime.equals(expected, signature) else { throw .badSignature("the signature does not verify") }
            allowedIssuers = [issuer]
        case "RS256", "ES256":
            guard let keyID else { throw .badSignature("\(algorithm) tokens need a kid") }
            guard let key = publicKeys[keyID] else { throw .badSignature("unknown kid") }
            let signatureAlgorithm: SignatureAlgorithm = algorithm == "RS256" ? .rs256 : .es256
            guard key.verify(signature: signature, message: signingInput, algorithm: signatureAlgorithm) else {
                throw .badSignature("the signature does not verify with key \(keyID)")
            }
            allowedIssuers = trustedIssuers
        default:
            throw .badSignature("algorithm \(algorithm) is not accepted")
        }
        guard let claims = try? JSON.parse(payloadBytes), claims.objectValue != nil else {
            throw .malformed("the payload is not a JSON object")
        }
        return try checkClaims(claims, allowedIssuers: allowedIssuers, fromIdentityProvider: algorithm != "HS256", now: now)
    }

    private func checkClaims(
        _ claims: JSON, allowedIssuers: Set<String>, fromIdentityProvider: Bool, now: Timestamp
    ) throws(TokenFailure) -> TokenClaims {
        guard let expires = claims["exp"].flatMap(Self.numericDate) else { throw .malformed("exp is missing or not a number") }
        if now.seconds > expires + leewaySeconds { throw .expired }
        if let notBefore = claims["nbf"] {
            guard let value = Self.numericDate(notBefore) else { throw .malformed("nbf is not a number") }
            if now.seconds + leewaySeconds < value { throw .claimsRejected("not valid yet (nbf)") }
        }
        guard let tokenIssuer = claims["iss"]?.stringValue, allowedIssuers.contains(tokenIssuer) else {
            throw .claimsRejected("issuer not trusted")
        }
        let audiences: [String]
        switch claims["aud"] {
        case .string(let single): audiences = [single]
        case .array(let list): audiences = list.compactMap(\.stringValue)
        default: audiences = []
        }
        guard audiences.contains(audience) else { throw .claimsRejected("audience does not include \(audience)") }
        guard let subject = claims["sub"]?.stringValue, Validation.principalName(subject) == nil else {
            throw .malformed("sub is missing or not a valid principal name")
        }
        var roles: [String] = []
        if let list = claims["roles"] {
            guard let values = list.arrayValue?.compactMap(\.stringValue), values.count == list.arrayValue?.count else {
                throw .malformed("roles is not a list of strings")
            }
            roles = values
        }
        var permissions: [Permission]?
        if let list = claims["permissions"] {
            let parsed = (list.arrayValue ?? []).compactMap { $0.stringValue.flatMap(Permission.init) }
            guard let array = list.arrayValue, parsed.count == array.count else {
                throw .claimsRejected("permissions is not a list of permission strings")
            }
            permissions = parsed
        }
        return TokenClaims(
            subject: subject, roles: roles, permissions: permissions, expiresAt: Timestamp(seconds: expires),
            tokenID: claims["jti"]?.stringValue, isFromIdentityProvider: fromIdentityProvider,
            issuingKey: fromIdentityProvider ? nil : claims["key"]?.stringValue)
    }

    /// A NumericDate (seconds, possibly fractional) as whole seconds; nil for anything else or absurd values.
    private static func numericDate(_ value: JSON) -> Int64? {
        guard let seconds = value.doubleValue, seconds.isFinite, abs(seconds) < 1e13 else { return nil }
        return Int64(seconds.rounded(.down))
    }

    /// Signs an HS256 token for `subject` that expires after `lifetimeSeconds`, or at `notAfter` when that is
    /// sooner; `key`, the id of the API key that asked for it, makes the token end when that key is revoked.
    func sign(
        subject: String, roles: [String], permissions: [Permission]?, key: String? = nil, notAfter: Timestamp? = nil,
        now: Timestamp
    ) throws -> (token: String, expiresAt: Timestamp) {
        guard let secret else { throw Problem.conflict("This installation issues no tokens: jwt-secret-file is not set.") }
        let lifetimeEnd = now.adding(seconds: lifetimeSeconds)
        let expiresAt = notAfter.map { min($0, lifetimeEnd) } ?? lifetimeEnd
        var claims: [(String, JSON)] = [
            ("iss", .string(issuer)), ("aud", .string(audience)), ("sub", .string(subject)),
            ("iat", .int(now.seconds)), ("exp", .int(expiresAt.seconds)),
            ("jti", .string(Base64URL.encode(try SecureRandom.bytes(count: 12)))),
            ("roles", .array(roles.map(JSON.string))),
        ]
        if let permissions { claims.append(("permissions", .array(permissions.map { .string($0.value) }))) }
        if let key { claims.append(("key", .string(key))) }
        let header = JSON.object([("alg", .string("HS256")), ("typ", .string("JWT"))])
        let signingInput = Base64URL.encode(header.bytes) + "." + Base64URL.encode(JSON.object(claims).bytes)
        let signature = HMACSHA256.authenticationCode(key: secret, message: Array(signingInput.utf8))
        return (signingInput + "." + Base64URL.encode(signature), expiresAt)
    }
}

/// Issuing tokens outside a request (`switchyardctl token generate`), with the responders' configuration.
public enum TokenIssuer {
    /// An HS256 token for `subject`; when `permissions` is given it replaces role expansion.
    public static func issue(config: Configuration, subject: String, roles: [String], permissions: [Permission]?)
        throws -> (token: String, expiresAt: Timestamp)
    {
        let service = try TokenService(config: config)
        guard service.canSign else {
            throw ConfigError(problems: ["jwt-secret-file: not set, so there is no key to sign tokens with"])
        }
        return try service.sign(subject: subject, roles: roles, permissions: permissions, now: SystemClock.now())
    }
}

/// A salted PBKDF2-HMAC-SHA256 password hash in the self-describing form
/// `pbkdf2-sha256$<iterations>$<base64url salt>$<base64url 32-byte key>`.
///
/// The cost and salt travel with the hash, so the cost can be raised later and old hashes upgraded at the next
/// successful login (see `iterations(of:)`).
public struct PasswordHash: Sendable {
    /// The iteration count new hashes get: OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
    public static let defaultIterations = 600_000

    /// A valid hash of cost `iterations` that no password matches (its key is not derived from one).
    ///
    /// Verify against it, at the cost new hashes get, when the user does not exist, so that a login for an unknown
    /// name costs the same as one with a wrong password and does not reveal which names exist.
    public static func dummy(iterations: Int) -> String {
        precondition(iterationRange.contains(iterations), "iterations out of range")
        return PasswordHash(iterations: iterations, salt: [UInt8](repeating: 0x5A, count: 16), key: [UInt8](repeating: 0, count: keyCount))
            .encoded
    }

    private static let scheme = "pbkdf2-sha256"
    private static let iterationRange = 1_000...10_000_000
    private static let saltRange = 8...64
    private static let keyCount = 32

    private let iterations: Int
    private let salt: [UInt8]
    private let key: [UInt8]

    /// Hashes `password` with a fresh random salt of `saltCount` bytes.
    ///
    /// `iterations` must lie in 1,000...10,000,000 and `saltCount` in 8...64, the ranges `verify` accepts.
    /// Throws `OpenSSLError` if the random generator or the key derivation fails.
    public static func make(password: String, iterations: Int = defaultIterations, saltCount: Int = 16) throws
        -> String
    {
        precondition(iterationRange.contains(iterations), "iterations out of range")
        precondition(saltRange.contains(saltCount), "salt size out of range")
        let salt = try SecureRandom.bytes(count: saltCount)
        let key = try derive(password, salt: salt, iterations: iterations)
        return PasswordHash(iterations: iterations, salt: salt, key: key).encoded
    }

    /// Whether `password` matches the hash `encoded`; false for any malformed encoding.
    ///
    /// The derived keys are compared in constant time.
    public static func verify(password: String, against encoded: String) -> Bool {
        guard let hash = PasswordHash(encoded: encoded),
            let key = try? derive(password, salt: hash.salt, iterations: hash.iterations)
        else { return false }
        return ConstantTime.equals(key, hash.key)
    }

    /// The iteration count of the hash `encoded`, or nil if it is malformed; compare it with `defaultIterations`
    /// to find hashes that should be recomputed.
    public static func iterations(of encoded: String) -> Int? {
        PasswordHash(encoded: encoded)?.iterations
    }

    private init(iterations: Int, salt: [UInt8], key: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.key = key
    }

    /// Parses a hash, accepting only what `make` could have produced.
    private init?(encoded: String) {
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 4, fields[0] == Self.scheme,
            fields[1].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            fields[1].first != "0", fields[1].count <= 8,
            let iterations = Int(fields[1]), Self.iterationRange.contains(iterations),
            let salt = Base64URL.decode(fields[2]), Self.saltRange.contains(salt.count),
            let key = Base64URL.decode(fields[3]), key.count == Self.keyCount
        else { return nil }
        self.init(iterations: iterations, salt: salt, key: key)
    }

    private var encoded: String {
        [Self.scheme, String(iterations), Base64URL.encode(salt), Base64URL.encode(key)].joined(separator: "$")
    }

    private static func derive(_ password: String, salt: [UInt8], iterations: Int) throws -> [UInt8] {
        try PBKDF2HMACSHA256.deriveKey(password: password.utf8, salt: salt, iterations: iterations, count: keyCount)
    }
}

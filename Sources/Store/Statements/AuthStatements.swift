import Domain
import Postgres

/// The read of API keys and their owners from `keys`, a relation that names each presented key `r` with its
/// `prefix`, `hash` and `wanted` (and, for a group, its `ordinal`, which the last column then returns). When the hash
/// matches a usable key, its last use is noted (at most once a minute) and, when `wanted` is above 0, up to `wanted`
/// requests are taken from the owner's rate limit (`rate_limit_take`, 0020); with `wanted` 0 (the responder holds an
/// allowance) nothing is written in most calls. Both writes are calls behind CASE (0022), so a call whose condition
/// does not hold (a wrong secret, say) is never made and costs nothing to set up. The take is made once in the inner
/// query, whose volatile output keeps it from being merged into the outer one (and `OFFSET 0` says so): merged, each
/// of its four uses would take again.
private func apiKeyReadSQL(keys: String, at: String, ordinal: String = "") -> String {
    """
    SELECT t.id, t.secret_hash, t.kind, t.scopes, epoch_us(t.expires_at), epoch_us(t.revoked_at),
           t.principal_id, t.name, t.principal_kind, t.is_active, t.roles, t.permissions,
           t.rate_burst, t.taken[1], t.taken[2], t.taken[3], t.taken[4], t.rate_per_minute, t.rate_per_hour,
           CASE WHEN t.usable AND (t.last_used_at IS NULL OR t.last_used_at < t.at - interval '1 minute')
                THEN api_key_note_use(t.id, t.at) END\(ordinal.isEmpty ? "" : ", t.\(ordinal)")
    FROM (
        SELECT f.*,
               CASE WHEN f.usable AND f.wanted > 0
                    THEN rate_limit_take_values('p:' || f.principal_id, f.rate_per_minute, f.rate_per_hour,
                                                f.rate_burst, f.at, f.wanted) END AS taken
        FROM (
            SELECT k.id, k.secret_hash, k.kind, k.scopes, k.expires_at, k.revoked_at, k.last_used_at,
                   p.id AS principal_id, p.name, p.kind AS principal_kind, p.is_active, p.roles, p.permissions,
                   p.rate_per_minute, p.rate_per_hour, p.rate_burst, n.at, r.wanted\(ordinal.isEmpty ? "" : ", r.\(ordinal)"),
                   k.secret_hash = r.hash AND p.is_active AND (k.revoked_at IS NULL OR k.revoked_at > n.at)
                       AND (k.expires_at IS NULL OR k.expires_at > n.at) AS usable
            FROM (SELECT \(at) AS at) n, \(keys)
            JOIN api_key k ON k.prefix = r.prefix
            JOIN principal p ON p.id = k.principal_id) f
        OFFSET 0) t
    """
}

private func decodeApiKey(_ row: ResultRow) throws -> ApiKeyAuthentication {
    ApiKeyAuthentication(
        keyID: try row.int(0), secretHash: try row.bytes(1), isSession: try row.string(2) == "session",
        scopes: try row.stringArray(3), expiresAt: try row.optionalInt(4).map(Timestamp.init(microseconds:)),
        revokedAt: try row.optionalInt(5).map(Timestamp.init(microseconds:)),
        principal: try PrincipalFacts(row, from: 6), rateLimit: try RateLimitGrant(row, from: 12),
        limits: RateLimits(perMinute: Int(try row.int(17)), perHour: Int(try row.int(18)), burst: Int(try row.int(12))))
}

/// The API key with this prefix and its owner (`apiKeyReadSQL`).
struct AuthApiKey: Statement {
    static let sql = apiKeyReadSQL(
        keys: "(SELECT $1::text AS prefix, $2::bytea AS hash, $4::integer AS wanted) r",
        at: "coalesce($3::timestamptz, now())")
    typealias Row = ApiKeyAuthentication
    let prefix: String
    let hash: [UInt8]
    let wanted: Int
    let now: Timestamp?
    var binds: [PostgresValue] { [.text(prefix), .bytes(hash), .text(now?.rfc3339), .int(Int64(wanted))] }
    static func decode(_ row: ResultRow) throws -> Row { try decodeApiKey(row) }
}

/// The API keys presented by a group of requests (`apiKeyReadSQL`), in one statement: a row for each request whose
/// prefix names a key, with the request's position (from 0) last. The same key may be presented by several requests;
/// their takes are made one after the other.
struct AuthApiKeys: Statement {
    static let sql = apiKeyReadSQL(
        keys: """
            (SELECT u.prefix, decode(u.hash_hex, 'hex') AS hash, u.wanted, u.position - 1 AS ordinal
             FROM unnest($1::text[], $2::text[], $3::integer[]) WITH ORDINALITY AS u (prefix, hash_hex, wanted, position)) r
            """,
        at: "coalesce($4::timestamptz, now())", ordinal: "ordinal")
    typealias Row = (ordinal: Int, key: ApiKeyAuthentication)
    let keys: [(prefix: String, hash: [UInt8], wanted: Int)]
    let now: Timestamp?
    var binds: [PostgresValue] {
        [.textArray(keys.map(\.prefix)), .textArray(keys.map { hexadecimal($0.hash) }),
         .textArray(keys.map { String($0.wanted) }), .text(now?.rfc3339)]
    }
    static func decode(_ row: ResultRow) throws -> Row { (Int(try row.int(20)), try decodeApiKey(row)) }
}

/// Takes up to `wanted` requests from a principal's bucket (`rate_limit_take`, 0020).
struct RateLimitTake: Statement {
    static let sql = """
        SELECT $4::integer, granted, remaining, reset_seconds, retry_after_seconds
        FROM rate_limit_take('p:' || $1::bigint, $2::integer, $3::integer, $4::integer,
                             coalesce($5::timestamptz, now()), $6::integer)
        """
    typealias Row = RateLimitGrant
    let principalID: Int64
    let limits: RateLimits
    let wanted: Int
    let now: Timestamp?
    var binds: [PostgresValue] {
        [.int(principalID), .int(limits.perMinute), .int(limits.perHour), .int(limits.burst), .text(now?.rfc3339),
         .int(wanted)]
    }
    static func decode(_ row: ResultRow) throws -> RateLimitGrant {
        guard let grant = try RateLimitGrant(row, from: 0) else {
            throw DatabaseError(sqlState: SQLState("22004"), message: "rate_limit_take returned no decision")
        }
        return grant
    }
}

/// The principal registered for a certificate fingerprint, with the rate-limit hit.
struct AuthCertificate: Statement {
    static let sql = """
        SELECT epoch_us(certificate_not_after), epoch_us(certificate_revoked_at),
               principal_id, principal_name, principal_kind, is_active, roles, permissions,
               rate_limit, rate_allowed, rate_remaining, rate_reset, rate_retry_after
        FROM auth_certificate($1::bytea, coalesce($2::timestamptz, now()))
        """
    typealias Row = CertificateAuthentication
    let fingerprint: [UInt8]
    let now: Timestamp?
    var binds: [PostgresValue] { [.bytes(fingerprint), .text(now?.rfc3339)] }
    static func decode(_ row: ResultRow) throws -> Row {
        CertificateAuthentication(
            notAfter: Timestamp(microseconds: try row.int(0)),
            revokedAt: try row.optionalInt(1).map(Timestamp.init(microseconds:)),
            principal: try PrincipalFacts(row, from: 2), rateLimit: try RateLimitDecision(row, from: 8))
    }
}

/// The principal a verified token names (created on first sight, as external), the permissions of the token's
/// roles, the principal's own permissions, and the rate-limit hit.
struct AuthTokenSubject: Statement {
    static let sql = """
        SELECT principal_id, principal_name, principal_kind, is_active, $2::text[], permissions, is_external,
               principal_permissions, issuing_key_usable,
               rate_limit, rate_allowed, rate_remaining, rate_reset, rate_retry_after
        FROM auth_token_subject($1::text, $2::text[], $3::boolean, $4::text, coalesce($5::timestamptz, now()))
        """
    typealias Row = TokenAuthentication
    let subject: String
    let roles: [String]
    let fromIdentityProvider: Bool
    let issuingKey: String?
    let now: Timestamp?
    var binds: [PostgresValue] {
        [.text(subject), .textArray(roles), .bool(fromIdentityProvider), .text(issuingKey), .text(now?.rfc3339)]
    }
    static func decode(_ row: ResultRow) throws -> Row {
        TokenAuthentication(
            principal: try PrincipalFacts(row, from: 0), isExternal: try row.bool(6),
            principalPermissions: try row.stringArray(7), isIssuingKeyUsable: try row.bool(8),
            rateLimit: try RateLimitDecision(row, from: 9))
    }
}

/// One request of a subject without a principal (a client address, a username at login) against explicit limits,
/// or (when the limits are null) those of the `anonymous` role.
struct RateLimitHitStatement: Statement {
    static let sql = """
        SELECT coalesce($4::integer, r.rate_burst), h.allowed, h.remaining, h.reset_seconds, h.retry_after_seconds
        FROM role r,
             rate_limit_hit($1::text, coalesce($2::integer, r.rate_per_minute), coalesce($3::integer, r.rate_per_hour),
                            coalesce($4::integer, r.rate_burst), coalesce($5::timestamptz, now())) h
        WHERE r.name = 'anonymous'
        """
    typealias Row = RateLimitDecision
    let subject: String
    let perMinute: Int?
    let perHour: Int?
    let burst: Int?
    let now: Timestamp?
    var binds: [PostgresValue] { [.text(subject), .int(perMinute), .int(perHour), .int(burst), .text(now?.rfc3339)] }
    static func decode(_ row: ResultRow) throws -> RateLimitDecision {
        guard let decision = try RateLimitDecision(row, from: 0) else {
            throw DatabaseError(sqlState: SQLState("22004"), message: "rate_limit_hit returned no decision")
        }
        return decision
    }
}

/// Facts about a principal that every authentication function returns in the same column order.
public struct PrincipalFacts: Sendable, Equatable {
    public let id: Int64
    public let name: String
    public let kind: PrincipalKind
    public let isActive: Bool
    public let roles: [String]
    public let permissions: [String]

    init(_ row: ResultRow, from column: Int) throws {
        id = try row.int(column)
        name = try row.string(column + 1)
        kind = PrincipalKind(rawValue: try row.string(column + 2)) ?? .user
        isActive = try row.bool(column + 3)
        roles = try row.stringArray(column + 4)
        permissions = try row.stringArray(column + 5)
    }
}

/// What `AuthApiKey` found for a prefix.
public struct ApiKeyAuthentication: Sendable {
    public let keyID: Int64
    public let secretHash: [UInt8]
    public let isSession: Bool
    public let scopes: [String]
    public let expiresAt: Timestamp?
    public let revokedAt: Timestamp?
    public let principal: PrincipalFacts
    /// Nil when nothing was asked for or the key was not usable (nothing was counted).
    public let rateLimit: RateLimitGrant?
    /// The owner's limits, for a take after the key was read.
    public let limits: RateLimits
}

/// A principal's rate limits: a bucket of `burst` refilled at `perMinute`, and an hourly quota.
public struct RateLimits: Sendable, Equatable {
    public let perMinute: Int
    public let perHour: Int
    public let burst: Int

    public init(perMinute: Int, perHour: Int, burst: Int) {
        self.perMinute = perMinute
        self.perHour = perHour
        self.burst = burst
    }
}

/// Requests taken from a principal's rate limit in one call, and the decision for the first of them.
public struct RateLimitGrant: Sendable, Equatable {
    /// How many were taken: 0 is a refusal.
    public let granted: Int
    /// `remaining` counts what is left after all `granted` were taken.
    public let decision: RateLimitDecision

    public init(granted: Int, decision: RateLimitDecision) {
        self.granted = granted
        self.decision = decision
    }

    /// Decodes `limit, granted, remaining, reset, retry_after` columns; nil when `granted` is NULL (nothing asked).
    init?(_ row: ResultRow, from column: Int) throws {
        if row.isNull(column + 1) { return nil }
        granted = Int(try row.int(column + 1))
        decision = RateLimitDecision(
            isAllowed: granted > 0, limit: Int(try row.int(column)), remaining: Int(try row.int(column + 2)),
            resetSeconds: Int(try row.int(column + 3)), retryAfterSeconds: Int(try row.int(column + 4)))
    }
}

/// What `auth_certificate` found for a fingerprint.
public struct CertificateAuthentication: Sendable {
    public let notAfter: Timestamp
    public let revokedAt: Timestamp?
    public let principal: PrincipalFacts
    public let rateLimit: RateLimitDecision?
}

/// What `auth_token_subject` found for a token's subject.
public struct TokenAuthentication: Sendable {
    /// The principal, with the token's roles and their permissions.
    public let principal: PrincipalFacts
    /// Provisioned from tokens: the token's roles are its rights. A local principal's tokens only narrow its own.
    public let isExternal: Bool
    /// What the principal itself may do now (for an external principal, what its token's roles allow).
    public let principalPermissions: [String]
    /// False when the key the token was made with is revoked, has expired or is not the principal's.
    public let isIssuingKeyUsable: Bool
    /// Nil when nothing was counted (an inactive principal, or a local one named by an identity provider's token).
    public let rateLimit: RateLimitDecision?
}

extension RateLimitDecision {
    /// Decodes `limit, allowed, remaining, reset, retry_after` columns; nil when `allowed` is NULL (not counted).
    init?(_ row: ResultRow, from column: Int) throws {
        if row.isNull(column + 1) { return nil }
        self.init(
            isAllowed: try row.bool(column + 1), limit: Int(try row.int(column)), remaining: Int(try row.int(column + 2)),
            resetSeconds: Int(try row.int(column + 3)), retryAfterSeconds: Int(try row.int(column + 4)))
    }
}

/// Forgets up to `limit` rows of rate-limit state that no longer limit anything (bucket full again and the hour
/// over); bounded like `IdempotencyKeyPrune`.
struct RateLimitStatePrune: Statement {
    static let sql = """
        DELETE FROM rate_limit_state WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM rate_limit_state
            WHERE tat < coalesce($1::timestamptz, now())
              AND hour_start < date_trunc('hour', coalesce($1::timestamptz, now()))
            LIMIT $2::integer))
        """
    let now: Timestamp?
    let limit: Int
    var binds: [PostgresValue] { [.text(now?.rfc3339), .int(Int64(limit))] }
}

import Domain
import Postgres

/// The database side of authentication and rate limiting: each call is one round trip, which also carries the
/// route's read sent ahead (`ahead`), if any.
public struct AuthStore {
    private let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// The key with this public prefix and its owner, or nil when no key has it. When `hash` matches a usable key,
    /// up to `wanted` requests are taken from the owner's rate limit in the same call (none when `wanted` is 0).
    public func apiKey(
        prefix: String, hash: [UInt8], wanted: Int = 1, now: Timestamp? = nil, readingAhead ahead: ReadAhead? = nil
    ) throws -> ApiKeyAuthentication? {
        try connection.first(AuthApiKey(prefix: prefix, hash: hash, wanted: wanted, now: now), readingAhead: ahead)
    }

    /// What `apiKey` returns for each of several presented keys, in their order, read in one statement (a group of
    /// requests, the submit batcher's): a statement costs the server several times what one key's lookup does. The
    /// statement is one transaction, so an error in it (a take that fails) leaves every key unread.
    public func apiKeys(
        _ presented: [(prefix: String, hash: [UInt8], wanted: Int)], now: Timestamp? = nil
    ) throws -> [ApiKeyAuthentication?] {
        var found = [ApiKeyAuthentication?](repeating: nil, count: presented.count)
        for row in try connection.rows(AuthApiKeys(keys: presented, now: now)) where found.indices.contains(row.ordinal) {
            found[row.ordinal] = row.key
        }
        return found
    }

    /// Takes up to `wanted` requests from a principal's bucket, for a key read without counting.
    public func takeFromRateLimit(
        principalID: Int64, limits: RateLimits, wanted: Int, now: Timestamp? = nil
    ) throws -> RateLimitGrant {
        guard let grant = try connection.first(
            RateLimitTake(principalID: principalID, limits: limits, wanted: wanted, now: now))
        else { throw DatabaseError(sqlState: SQLState("22004"), message: "rate_limit_take returned no row") }
        return grant
    }

    /// The principal registered for a certificate fingerprint, or nil.
    public func certificate(
        fingerprint: [UInt8], now: Timestamp? = nil, readingAhead ahead: ReadAhead? = nil
    ) throws -> CertificateAuthentication? {
        try connection.first(AuthCertificate(fingerprint: fingerprint, now: now), readingAhead: ahead)
    }

    /// The principal a verified token names, created on first sight.
    public func tokenSubject(
        _ subject: String, roles: [String], fromIdentityProvider: Bool, issuingKey: String?, now: Timestamp? = nil,
        readingAhead ahead: ReadAhead? = nil
    ) throws -> TokenAuthentication? {
        try connection.first(
            AuthTokenSubject(
                subject: subject, roles: roles, fromIdentityProvider: fromIdentityProvider, issuingKey: issuingKey,
                now: now),
            readingAhead: ahead)
    }

    /// Counts one request of a subject that is not a principal; nil limits mean the `anonymous` role's.
    public func rateLimitHit(
        subject: String, perMinute: Int? = nil, perHour: Int? = nil, burst: Int? = nil, now: Timestamp? = nil
    ) throws -> RateLimitDecision {
        guard let decision = try connection.first(
            RateLimitHitStatement(subject: subject, perMinute: perMinute, perHour: perHour, burst: burst, now: now))
        else { throw DatabaseError(sqlState: SQLState("P0002"), message: "the anonymous role is missing") }
        return decision
    }

    /// Deletes up to `limit` rate-limit rows that no longer limit anything; returns how many.
    public func pruneRateLimitState(now: Timestamp? = nil, limit: Int) throws -> Int {
        try connection.execute(RateLimitStatePrune(now: now, limit: limit)).affectedRows
    }
}

import Domain
import OpenSSL
import Store
import Synchronization

/// Requests this process may still serve for a principal without counting each one in PostgreSQL: an allowance is
/// taken from the principal's shared bucket (`rate_limit_take`, migration 0020) and counted down here.
///
/// The limit holds across processes and hosts, since every request served was taken from the bucket first. What an
/// allowance has not served after `lifetime` is dropped, not given back, so the database grants at most a quarter
/// of what is left at once: a principal near its limit is counted request by request. Allowances grow with a
/// principal's demand in this process (doubling while each runs out before it expires, up to `largest`), so a
/// client making a request now and then is counted one by one, exactly as without them.
///
/// Only API keys use allowances: a key's principal never changes, so the table can tell before the database is
/// asked whose allowance a request would spend, and only a request with the key's secret (its hash, compared in
/// constant time) spends it. Certificates and tokens count every request.
final class RateAllowances: Sendable {
    /// What to do for a request presenting a key.
    enum Claim: Equatable {
        /// One request was spent from this principal's allowance: read the key without counting.
        case held(principalID: Int64, decision: RateLimitDecision)
        /// Take up to this many requests from the database.
        case take(wanted: Int)
        /// The key was not seen in this process with this secret: read it without counting, then claim again with
        /// its principal (`claim(keyPrefix:hash:principalID:)`), which may hold requests taken with its other keys.
        case unknownKey
    }

    /// How long an allowance may be spent: 2 s in the responders; tests that count takes use longer.
    let lifetime: Duration
    /// The most requests asked for at once.
    static let largest = 64
    /// Principals and keys remembered before the table is cleared (a key takes about a hundred bytes).
    static let capacity = 50_000

    private struct Allowance {
        var left: Int
        var spent: Int
        let granted: Int
        let expires: ContinuousClock.Instant
        let limit: Int
        /// What the bucket had left after the grant.
        let remainingInBucket: Int
        let fullAt: ContinuousClock.Instant
    }

    private struct Key {
        let principalID: Int64
        let secretHash: [UInt8]
    }

    private struct Table {
        var byPrincipal: [Int64: Allowance] = [:]
        var keys: [String: Key] = [:]
    }

    private let table = Mutex(Table())

    init(lifetime: Duration = .seconds(2)) {
        self.lifetime = lifetime
    }

    /// Spends one request of the allowance of the principal owning the key with `prefix`, when `hash` is that key's,
    /// or says how many to take; `.unknownKey` when the key was not seen here with this secret.
    func claim(keyPrefix prefix: String, hash: [UInt8], now: ContinuousClock.Instant = .now) -> Claim {
        table.withLock { table in
            guard let key = table.keys[prefix], ConstantTime.equals(key.secretHash, hash) else { return .unknownKey }
            return Self.claim(principal: key.principalID, in: &table, now: now, lifetime: lifetime)
        }
    }

    /// For a key read without counting (`.unknownKey`) that authenticated: notes whose it is, then spends one request
    /// of its principal's allowance or says how many to take.
    func claim(
        keyPrefix prefix: String, hash: [UInt8], principalID: Int64, now: ContinuousClock.Instant = .now
    ) -> Claim {
        table.withLock { table in
            if table.keys.count >= Self.capacity || table.byPrincipal.count >= Self.capacity {
                table = Table()
            }
            table.keys[prefix] = Key(principalID: principalID, secretHash: hash)
            return Self.claim(principal: principalID, in: &table, now: now, lifetime: lifetime)
        }
    }

    private static func claim(
        principal: Int64, in table: inout Table, now: ContinuousClock.Instant, lifetime: Duration
    ) -> Claim {
        guard var allowance = table.byPrincipal[principal] else { return .take(wanted: 1) }
        if allowance.left > 0, now < allowance.expires {
            allowance.left -= 1
            allowance.spent += 1
            table.byPrincipal[principal] = allowance
            let decision = RateLimitDecision(
                isAllowed: true, limit: allowance.limit, remaining: allowance.remainingInBucket + allowance.left,
                resetSeconds: seconds(from: now, to: allowance.fullAt), retryAfterSeconds: 0)
            return .held(principalID: principal, decision: decision)
        }
        if now < allowance.expires {
            return .take(wanted: min(largest, allowance.granted * 2))
        }
        if now < allowance.expires + lifetime {
            return .take(wanted: max(1, min(largest, allowance.spent)))
        }
        return .take(wanted: 1)
    }

    /// Notes what a take for the key with `prefix` brought; the request that asked spends the first request of the
    /// principal's allowance, to which the grant is added (a key seen for the first time takes from the database
    /// while the principal may already hold requests here, from another key or another thread).
    /// Returns the decision to answer it with: the bucket's remainder plus what this process keeps.
    func record(
        keyPrefix prefix: String, hash: [UInt8], principalID: Int64, grant: RateLimitGrant,
        now: ContinuousClock.Instant = .now
    ) -> RateLimitDecision {
        let decision = grant.decision
        return table.withLock { table in
            if table.keys.count >= Self.capacity || table.byPrincipal.count >= Self.capacity {
                table = Table()
            }
            table.keys[prefix] = Key(principalID: principalID, secretHash: hash)
            let live = table.byPrincipal[principalID].flatMap { now < $0.expires ? $0 : nil }
            if grant.granted == 0 {
                // The bucket is empty, but requests taken before may still be held here.
                guard var held = live, held.left > 0 else {
                    table.byPrincipal[principalID] = nil
                    return decision
                }
                held.left -= 1
                held.spent += 1
                table.byPrincipal[principalID] = held
                return RateLimitDecision(
                    isAllowed: true, limit: decision.limit, remaining: held.left,
                    resetSeconds: decision.resetSeconds, retryAfterSeconds: 0)
            }
            let left = (live?.left ?? 0) + grant.granted - 1
            table.byPrincipal[principalID] = Allowance(
                left: left, spent: (live?.spent ?? 0) + 1, granted: grant.granted, expires: now + lifetime,
                limit: decision.limit, remainingInBucket: decision.remaining,
                fullAt: now + .seconds(decision.resetSeconds))
            return RateLimitDecision(
                isAllowed: true, limit: decision.limit, remaining: decision.remaining + left,
                resetSeconds: decision.resetSeconds, retryAfterSeconds: 0)
        }
    }

    /// Drops what the key with `prefix` might spend: it no longer authenticates (revoked, expired, inactive owner).
    func forget(keyPrefix prefix: String) {
        table.withLock { table in
            if let key = table.keys.removeValue(forKey: prefix) {
                table.byPrincipal[key.principalID] = nil
            }
        }
    }

    private static func seconds(from now: ContinuousClock.Instant, to then: ContinuousClock.Instant) -> Int {
        let (seconds, attoseconds) = (then - now).components
        return max(0, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }
}

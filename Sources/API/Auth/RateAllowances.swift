import Domain
import OpenSSL
import Store
import Synchronization

/// Requests this process may still serve for a principal without counting each one in PostgreSQL: an allowance is
/// taken from the principal's shared bucket (`rate_limit_take`, migration 0020) and counted down here.
///
/// The limit holds across processes and hosts, since every request served was taken from the bucket first. The
/// database grants at most a quarter of what is left at once, so a principal near its limit is counted request by
/// request. What this process has not spent `lifetime` after its latest take for a principal is dropped, not given
/// back. An allowance grows with the principal's demand in this process (doubling while each runs out before it
/// expires, up to `largest`; after one expires, the next is sized by what it served), so a principal whose requests
/// reach this process less often than once per `lifetime` is counted request by request.
///
/// Only API keys use allowances: a key's principal never changes, so the table can tell before the database is
/// asked whose allowance a request would spend, and only a request with the key's secret (its hash, compared in
/// constant time) spends it. Certificates and tokens count every request.
final class RateAllowances: Sendable {
    /// What to do for a request of a principal.
    enum Claim: Equatable {
        /// One request was spent from the principal's allowance: read the key without counting.
        case held(RateLimitDecision)
        /// Take up to this many requests from the database.
        case take(wanted: Int)
    }

    /// How long after its latest take a principal's allowance may be spent: 5 s in the responders; tests that count
    /// takes use longer.
    let lifetime: Duration
    /// The most requests asked for at once.
    static let largest = 64
    /// Keys, and principals, remembered before the table makes room (a key takes about a hundred bytes).
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

        /// Notes a key's principal; when full, forgets the allowances that can no longer be spent or sized from and
        /// the keys of principals without one, and everything only if that was not enough.
        mutating func remember(_ prefix: String, _ key: Key, now: ContinuousClock.Instant, lifetime: Duration) {
            if keys[prefix] == nil, keys.count >= RateAllowances.capacity {
                byPrincipal = byPrincipal.filter { now < $0.value.expires + lifetime }
                keys = keys.filter { byPrincipal[$0.value.principalID] != nil }
                if keys.count >= RateAllowances.capacity {
                    self = Table()
                }
            }
            keys[prefix] = key
        }
    }

    private let table = Mutex(Table())

    init(lifetime: Duration = .seconds(5)) {
        self.lifetime = lifetime
    }

    /// Spends one request of the allowance of the principal owning the key with `prefix`, when `hash` is that key's,
    /// or says how many to take; nil when the key was not seen here with this secret: read it without counting,
    /// then claim with its principal (`claim(keyPrefix:hash:principalID:)`), which may hold requests taken with
    /// its other keys.
    func claim(keyPrefix prefix: String, hash: [UInt8], now: ContinuousClock.Instant = .now) -> Claim? {
        table.withLock { table in
            guard let key = table.keys[prefix], ConstantTime.equals(key.secretHash, hash) else { return nil }
            return Self.claim(principal: key.principalID, in: &table, now: now, lifetime: lifetime)
        }
    }

    /// For a key that authenticated with `hash`: notes whose it is, then spends one request of its principal's
    /// allowance or says how many to take.
    func claim(
        keyPrefix prefix: String, hash: [UInt8], principalID: Int64, now: ContinuousClock.Instant = .now
    ) -> Claim {
        table.withLock { table in
            table.remember(prefix, Key(principalID: principalID, secretHash: hash), now: now, lifetime: lifetime)
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
            return .held(
                RateLimitDecision(
                    isAllowed: true, limit: allowance.limit, remaining: allowance.remainingInBucket + allowance.left,
                    resetSeconds: seconds(from: now, to: allowance.fullAt), retryAfterSeconds: 0))
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
    /// principal's allowance, to which the grant is added (other threads may have taken for the same principal at
    /// the same time). Returns the decision to answer it with: the bucket's remainder plus what this process keeps.
    func record(
        keyPrefix prefix: String, hash: [UInt8], principalID: Int64, grant: RateLimitGrant,
        now: ContinuousClock.Instant = .now
    ) -> RateLimitDecision {
        let decision = grant.decision
        return table.withLock { table in
            table.remember(prefix, Key(principalID: principalID, secretHash: hash), now: now, lifetime: lifetime)
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

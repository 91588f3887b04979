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
    }

    /// How long an allowance may be spent: 2 s in the responders; tests that count takes use longer.
    let lifetime: Duration
    /// The most requests asked for at once.
    static let largest = 64
    /// Principals and keys remembered before the table is cleared (each a few dozen bytes).
    static let capacity = 10_000

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
    /// or says how many to take.
    func claim(keyPrefix prefix: String, hash: [UInt8], now: ContinuousClock.Instant = .now) -> Claim {
        table.withLock { table in
            guard let key = table.keys[prefix], ConstantTime.equals(key.secretHash, hash),
                  var allowance = table.byPrincipal[key.principalID]
            else { return .take(wanted: 1) }
            let principal = key.principalID
            if allowance.left > 0, now < allowance.expires {
                allowance.left -= 1
                allowance.spent += 1
                table.byPrincipal[principal] = allowance
                let decision = RateLimitDecision(
                    isAllowed: true, limit: allowance.limit, remaining: allowance.remainingInBucket + allowance.left,
                    resetSeconds: Self.seconds(from: now, to: allowance.fullAt), retryAfterSeconds: 0)
                return .held(principalID: principal, decision: decision)
            }
            if now < allowance.expires {
                return .take(wanted: min(Self.largest, allowance.granted * 2))
            }
            if now < allowance.expires + lifetime {
                return .take(wanted: max(1, min(Self.largest, allowance.spent)))
            }
            return .take(wanted: 1)
        }
    }

    /// Notes what a take for the key with `prefix` brought; the request that asked spends the first of `granted`.
    /// Returns the decision to answer it with: the bucket's remainder plus what this process keeps.
    func record(
        keyPrefix prefix: String, hash: [UInt8], principalID: Int64, grant: RateLimitGrant,
        now: ContinuousClock.Instant = .now
    ) -> RateLimitDecision {
        let decision = grant.decision
        guard grant.granted > 0 else {
            table.withLock { $0.byPrincipal[principalID] = nil }
            return decision
        }
        table.withLock { table in
            if table.keys.count >= Self.capacity || table.byPrincipal.count >= Self.capacity {
                table = Table()
            }
            table.keys[prefix] = Key(principalID: principalID, secretHash: hash)
            table.byPrincipal[principalID] = Allowance(
                left: grant.granted - 1, spent: 1, granted: grant.granted, expires: now + lifetime,
                limit: decision.limit, remainingInBucket: decision.remaining,
                fullAt: now + .seconds(decision.resetSeconds))
        }
        return RateLimitDecision(
            isAllowed: true, limit: decision.limit, remaining: decision.remaining + grant.granted - 1,
            resetSeconds: decision.resetSeconds, retryAfterSeconds: 0)
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

import Dispatch
import Domain
import Store
import Synchronization
import Testing

@testable import API

/// A process's allowances: spent only with the key's secret, grown with demand, dropped when they expire.
@Suite struct RateAllowancesTests {
    let start = ContinuousClock.now
    let hash = [UInt8](repeating: 7, count: 32)

    func grant(_ granted: Int, remaining: Int, reset: Int = 30) -> RateLimitGrant {
        RateLimitGrant(
            granted: granted,
            decision: RateLimitDecision(
                isAllowed: granted > 0, limit: 50, remaining: remaining, resetSeconds: reset,
                retryAfterSeconds: granted > 0 ? 0 : 3))
    }

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    @Test func demandGrowsTheAllowanceAndItIsSpentBeforeTheDatabaseIsAskedAgain() {
        let allowances = RateAllowances()
        #expect(allowances.claim(keyPrefix: "sy_a", hash: hash, now: at(0)) == nil)
        #expect(allowances.claim(keyPrefix: "sy_a", hash: hash, principalID: 9, now: at(0)) == .take(wanted: 1))
        let first = allowances.record(keyPrefix: "sy_a", hash: hash, principalID: 9, grant: grant(1, remaining: 49), now: at(0))
        #expect(first.remaining == 49)
        #expect(allowances.claim(keyPrefix: "sy_a", hash: hash, now: at(10)) == .take(wanted: 2))
        let second = allowances.record(keyPrefix: "sy_a", hash: hash, principalID: 9, grant: grant(2, remaining: 47), now: at(10))
        #expect(second.remaining == 48, "the bucket's 47 and the one this process keeps")
        guard case .held(let decision)? = allowances.claim(keyPrefix: "sy_a", hash: hash, now: at(20)) else {
            Issue.record("the kept request was not spent")
            return
        }
        #expect(decision.isAllowed && decision.remaining == 47 && decision.limit == 50)
        #expect(allowances.claim(keyPrefix: "sy_a", hash: hash, now: at(30)) == .take(wanted: 4))
    }

    @Test func anotherKeyOfThePrincipalSpendsTheSameAllowanceOnceItsOwnerIsKnown() {
        let allowances = RateAllowances()
        _ = allowances.record(keyPrefix: "sy_a", hash: hash, principalID: 9, grant: grant(3, remaining: 40), now: at(0))
        let otherHash = [UInt8](repeating: 8, count: 32)
        #expect(allowances.claim(keyPrefix: "sy_b", hash: otherHash, now: at(1)) == nil, "read it first")
        for millisecond in 2...3 {
            guard case .held = allowances.claim(
                keyPrefix: "sy_b", hash: otherHash, principalID: 9, now: at(millisecond))
            else {
                Issue.record("the principal's allowance was not spent")
                return
            }
        }
        #expect(allowances.claim(keyPrefix: "sy_b", hash: otherHash, now: at(4)) == .take(wanted: 6), "ran out early")
    }

    @Test func aWrongSecretNeverSpendsTheAllowance() {
        let allowances = RateAllowances()
        _ = allowances.record(keyPrefix: "sy_a", hash: hash, principalID: 9, grant: grant(8, remaining: 40), now: at(0))
        var wrong = hash
        wrong[31] ^= 1
        #expect(allowances.claim(keyPrefix: "sy_a", hash: wrong, now: at(1)) == nil)
        if case .held? = allowances.claim(keyPrefix: "sy_a", hash: hash, now: at(2)) {} else {
            Issue.record("the right secret found nothing left")
        }
    }

    @Test func anExpiredAllowanceIsNotSpentAndTheNextIsSizedByWhatWasUsed() {
        let allowances = RateAllowances()
        _ = allowances.record(keyPrefix: "sy_a", hash: hash, principalID: 9, grant: grant(10, remaining: 30), now: at(0))
        for millisecond in 1...2 {
            if case .take? = allowances.claim(keyPrefix: "sy_a", hash: hash, now: at(millisecond)) {
                Issue.record("an allowance with requests left was not spent")
            }
        }
        let lifetime = Int(allowances.lifetime.components.seconds) * 1_000
        #expect(allowances.claim(keyPrefix: "sy_a", hash: hash, now: at(lifetime + 1)) == .take(wanted: 3))
        #expect(allowances.claim(keyPrefix: "sy_a", hash: hash, now: at(2 * lifetime + 1)) == .take(wanted: 1), "idle: start small")
    }

    @Test func aRefusalOrAFailedKeyLeavesNothingToSpend() {
        let allowances = RateAllowances()
        _ = allowances.record(keyPrefix: "sy_a", hash: hash, principalID: 9, grant: grant(1, remaining: 0), now: at(0))
        let refused = allowances.record(keyPrefix: "sy_a", hash: hash, principalID: 9, grant: grant(0, remaining: 0), now: at(1))
        #expect(!refused.isAllowed && refused.retryAfterSeconds == 3)
        #expect(allowances.claim(keyPrefix: "sy_a", hash: hash, now: at(2)) == .take(wanted: 1))

        _ = allowances.record(keyPrefix: "sy_a", hash: hash, principalID: 9, grant: grant(8, remaining: 40), now: at(3))
        allowances.forget(keyPrefix: "sy_a")
        #expect(allowances.claim(keyPrefix: "sy_a", hash: hash, now: at(4)) == nil)
    }

    @Test func theAskNeverExceedsTheLargest() {
        let allowances = RateAllowances()
        _ = allowances.record(
            keyPrefix: "sy_a", hash: hash, principalID: 9, grant: grant(RateAllowances.largest, remaining: 900), now: at(0))
        for millisecond in 1..<RateAllowances.largest {
            _ = allowances.claim(keyPrefix: "sy_a", hash: hash, now: at(millisecond))
        }
        #expect(allowances.claim(keyPrefix: "sy_a", hash: hash, now: at(100)) == .take(wanted: RateAllowances.largest))
    }
}

/// What a take adds to requests the principal already holds in the process.
@Suite struct RateAllowanceMergingTests {
    let start = ContinuousClock.now
    let hash = [UInt8](repeating: 7, count: 32)
    let otherHash = [UInt8](repeating: 8, count: 32)

    func grant(_ granted: Int, remaining: Int) -> RateLimitGrant {
        RateLimitGrant(
            granted: granted,
            decision: RateLimitDecision(
                isAllowed: granted > 0, limit: 50, remaining: remaining, resetSeconds: 30,
                retryAfterSeconds: granted > 0 ? 0 : 3))
    }

    @Test func aNewKeysTakeAddsToWhatThePrincipalHolds() {
        let allowances = RateAllowances()
        _ = allowances.record(keyPrefix: "sy_a", hash: hash, principalID: 9, grant: grant(8, remaining: 40), now: start)
        let second = allowances.record(
            keyPrefix: "sy_b", hash: otherHash, principalID: 9, grant: grant(1, remaining: 39), now: start + .milliseconds(1))
        #expect(second.remaining == 39 + 7, "the seven still held are kept")
        var held = 0
        while case .held? = allowances.claim(keyPrefix: "sy_a", hash: hash, now: start + .milliseconds(2)) { held += 1 }
        #expect(held == 7)
    }

    @Test func anEmptyBucketStillLetsHeldRequestsBeSpent() {
        let allowances = RateAllowances()
        _ = allowances.record(keyPrefix: "sy_a", hash: hash, principalID: 9, grant: grant(2, remaining: 0), now: start)
        let refusedButHeld = allowances.record(
            keyPrefix: "sy_b", hash: otherHash, principalID: 9, grant: grant(0, remaining: 0), now: start + .milliseconds(1))
        #expect(refusedButHeld.isAllowed && refusedButHeld.remaining == 0)
        let refused = allowances.record(
            keyPrefix: "sy_b", hash: otherHash, principalID: 9, grant: grant(0, remaining: 0), now: start + .milliseconds(2))
        #expect(!refused.isAllowed && refused.retryAfterSeconds == 3)
    }
}

/// The table's bounds and its lock.
@Suite struct RateAllowanceTableTests {
    let start = ContinuousClock.now
    let hash = [UInt8](repeating: 7, count: 32)

    func grant(_ granted: Int) -> RateLimitGrant {
        RateLimitGrant(
            granted: granted,
            decision: RateLimitDecision(isAllowed: true, limit: 5000, remaining: 4000, resetSeconds: 30, retryAfterSeconds: 0))
    }

    @Test func aFullTableForgetsWhatCanNoLongerBeSpentAndKeepsTheRest() {
        let allowances = RateAllowances()
        for principal in 1..<RateAllowances.capacity {
            _ = allowances.record(keyPrefix: "sy_\(principal)", hash: hash, principalID: Int64(principal), grant: grant(2), now: start)
        }
        let later = start + .seconds(10)
        _ = allowances.record(keyPrefix: "sy_live", hash: hash, principalID: -1, grant: grant(5), now: later)
        _ = allowances.record(keyPrefix: "sy_new", hash: hash, principalID: -2, grant: grant(5), now: later)
        #expect(allowances.claim(keyPrefix: "sy_1", hash: hash, now: later) == nil, "expired long ago: forgotten")
        if case .held? = allowances.claim(keyPrefix: "sy_live", hash: hash, now: later) {} else {
            Issue.record("a live allowance was dropped to make room")
        }
        if case .held? = allowances.claim(keyPrefix: "sy_new", hash: hash, now: later) {} else {
            Issue.record("the key that made room was not remembered")
        }
    }

    @Test func threadsTogetherSpendExactlyWhatWasGranted() {
        let allowances = RateAllowances()
        _ = allowances.record(keyPrefix: "sy_a", hash: hash, principalID: 9, grant: grant(1000), now: start)
        let spent = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<200 {
                if case .held? = allowances.claim(keyPrefix: "sy_a", hash: hash, now: start + .milliseconds(1)) {
                    spent.withLock { $0 += 1 }
                }
            }
        }
        #expect(spent.withLock { $0 } == 999, "the first of the 1,000 went to the request that took them")
    }
}

import Domain
import Store
import Testing

/// The shared token bucket, with a fixed clock so the arithmetic is exact.
@Suite(.enabled(if: TestDatabase.isAvailable)) struct RateLimitTests {
    let store = AuthStore(connection: TestDatabase.superuser())
    let start = Timestamp(rfc3339: "2030-01-01T00:00:00Z")!

    @Test func burstThenSustainedRate() throws {
        let subject = "test-burst-\(start.microseconds)-\(Int.random(in: 0..<1_000_000))"
        var decisions: [RateLimitDecision] = []
        for _ in 0..<5 {
            decisions.append(try store.rateLimitHit(subject: subject, perMinute: 60, perHour: 1000, burst: 3, now: start))
        }
        #expect(decisions.map(\.isAllowed) == [true, true, true, false, false])
        #expect(decisions.map(\.remaining) == [2, 1, 0, 0, 0])
        #expect(decisions[3].retryAfterSeconds == 1)
        let oneSecondLater = try store.rateLimitHit(subject: subject, perMinute: 60, perHour: 1000, burst: 3, now: start.adding(seconds: 1))
        #expect(oneSecondLater.isAllowed)
        let refilled = try store.rateLimitHit(subject: subject, perMinute: 60, perHour: 1000, burst: 3, now: start.adding(seconds: 60))
        #expect(refilled.isAllowed)
        #expect(refilled.remaining == 2)
    }

    @Test func hourlyQuotaEndsWithTheHour() throws {
        let subject = "test-hour-\(Int.random(in: 0..<1_000_000))"
        let first = try store.rateLimitHit(subject: subject, perMinute: 6000, perHour: 2, burst: 100, now: start)
        let second = try store.rateLimitHit(subject: subject, perMinute: 6000, perHour: 2, burst: 100, now: start)
        let third = try store.rateLimitHit(subject: subject, perMinute: 6000, perHour: 2, burst: 100, now: start.adding(seconds: 10))
        #expect(first.isAllowed && second.isAllowed && !third.isAllowed)
        #expect(third.retryAfterSeconds == 3590)
        let nextHour = try store.rateLimitHit(subject: subject, perMinute: 6000, perHour: 2, burst: 100, now: start.adding(seconds: 3600))
        #expect(nextHour.isAllowed)
    }

    @Test func anonymousRoleLimitsApplyWhenNoneAreGiven() throws {
        let decision = try store.rateLimitHit(subject: "a:test-\(Int.random(in: 0..<1_000_000))", now: start)
        #expect(decision.isAllowed)
        #expect(decision.limit > 0)
    }
}

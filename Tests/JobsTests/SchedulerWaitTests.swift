import Testing

@testable import Jobs

/// The scheduler's wait for a change between rounds counts down to its deadline without ever going below it.
@Suite struct SchedulerWaitTests {
    @Test func timeLeftIsNilOnceTheDeadlineHasPassed() {
        #expect(Scheduler.millisecondsLeft(from: 2_000_000_001, until: 2_000_000_000) == nil)
        #expect(Scheduler.millisecondsLeft(from: 2_000_000_000, until: 2_000_000_000) == nil)
    }

    @Test func timeLeftIsInWholeMilliseconds() {
        #expect(Scheduler.millisecondsLeft(from: 1_000_000_000, until: 1_002_500_000) == 2)
        #expect(Scheduler.millisecondsLeft(from: 1_000_000_000, until: 1_000_000_001) == 0)
        #expect(Scheduler.millisecondsLeft(from: 0, until: UInt64.max) == Int32.max)
    }
}

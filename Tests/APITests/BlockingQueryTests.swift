import Domain
import Testing
import Web

@testable import API

@Suite struct BlockingQueryTests {
    @Test(arguments: [("10s", 10.0), ("2m", 60.0), ("1m30s", 60.0), ("250ms", 0.25), ("1.5s", 1.5), ("0", 0.0), ("59s999ms", 59.999)])
    func waitsAreParsedAndCapped(_ text: String, _ seconds: Double) throws {
        let query = try BlockingQuery(QueryParameters("index=5&wait=\(text)"))
        #expect(abs(query.waitSeconds - seconds) < 1e-9)
        #expect(query.index == 5)
    }

    @Test(arguments: ["10", "s", "-1s", "1x", "1..5s", "", "ten", "1s2"])
    func malformedWaitsAreRefused(_ text: String) {
        #expect(throws: Problem.self) { try BlockingQuery(QueryParameters("index=5&wait=\(text)")) }
    }

    @Test func indexZeroNeverBlocks() throws {
        #expect(try BlockingQuery(QueryParameters("index=0&wait=30s")).waitSeconds == 0)
        #expect(try BlockingQuery(QueryParameters("wait=30s")).waitSeconds == 0)
    }

    @Test func jitterStaysWithinASixteenthAndVaries() {
        let query = BlockingQuery(index: 1, waitSeconds: 16)
        var offsets: Set<UInt64> = []
        for _ in 0..<100 {
            let before = SystemClock.monotonicNanoseconds()
            let deadline = query.deadline()
            let after = SystemClock.monotonicNanoseconds()
            #expect(deadline >= before + 16_000_000_000 && deadline <= after + 17_000_000_000)
            offsets.insert((deadline - before) / 1_000_000)
        }
        #expect(offsets.count > 1, "the extra wait is drawn anew for each request")
    }

    @Test func notificationPayloadsNameJobsOwnersAndEveryone() {
        #expect(WaitHub.keys(fromPayload: "5:1,6:2") == [.job(5), .owner(1), .job(6), .owner(2), .all])
        #expect(WaitHub.keys(fromPayload: "junk") == [.all])
    }
}

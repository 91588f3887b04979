import Domain
import Testing

@Suite struct TimestampTests {
    @Test func formatsRFC3339InUTC() {
        #expect(Timestamp(seconds: 0).rfc3339 == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp(microseconds: 1_795_452_849_123_456).rfc3339 == "2026-11-23T16:54:09.123456Z")
        #expect(Timestamp(seconds: 951_782_400).rfc3339 == "2000-02-29T00:00:00.000000Z")
        #expect(Timestamp(microseconds: -1).rfc3339 == "1969-12-31T23:59:59.999999Z")
    }

    @Test func parsesOffsetsAndFractions() {
        #expect(Timestamp(rfc3339: "2026-11-23T16:54:09Z")?.microseconds == 1_795_452_849_000_000)
        #expect(Timestamp(rfc3339: "2026-11-23T17:54:09.5+01:00")?.microseconds == 1_795_452_849_500_000)
        #expect(Timestamp(rfc3339: "2026-11-23T16:54:09.123456789Z")?.microseconds == 1_795_452_849_123_456)
        #expect(Timestamp(rfc3339: "2026-11-23t16:54:09z") != nil)
    }

    @Test(arguments: [
        "2026-11-23", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-23T24:00:00Z",
        "2026-11-23T16:54:09", "2026-11-23T16:54:09.Z", "2026-11-23T16:54:09+0100", "x026-11-23T16:54:09Z",
        "2026-11-23T16:54:09Zjunk",
    ])
    func refusesMalformedText(_ text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test func roundTripsThroughText() {
        for micro: Int64 in [0, 1, 999_999, 1_700_000_000_000_001, 4_102_444_800_000_000, -86_400_000_000] {
            let value = Timestamp(microseconds: micro)
            #expect(Timestamp(rfc3339: value.rfc3339) == value)
        }
    }
}

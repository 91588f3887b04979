import Domain
import Postgres
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

private struct BucketRow: Statement {
    static let sql = "SELECT hour_count FROM rate_limit_state WHERE subject = 'p:' || $1::bigint"
    typealias Row = Int64
    let principalID: Int64
    var binds: [PostgresValue] { [.int(principalID)] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

private struct LastUsed: Statement {
    static let sql = "SELECT epoch_us(last_used_at) FROM api_key WHERE prefix = $1::text"
    typealias Row = Int64?
    let prefix: String
    var binds: [PostgresValue] { [.text(prefix)] }
    static func decode(_ row: ResultRow) throws -> Int64? { try row.optionalInt(0) }
}

/// Authenticating an API key (`AuthApiKey`): it takes from the owner's bucket only what it is asked for, only with
/// the key's secret, and never more than a quarter of what is left at once.
@Suite(.enabled(if: TestDatabase.isAvailable)) struct ApiKeyRateLimitTests {
    let connection = TestDatabase.superuser()
    let start = Timestamp(rfc3339: "2030-01-01T00:00:00Z")!
    let hash = [UInt8](repeating: 3, count: 32)

    /// A principal with a role of its own (burst 40, one request a minute, 1,000 an hour) and one key.
    func keyOfAFreshPrincipal() throws -> (prefix: String, principalID: Int64) {
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let role = "allowance-\(tag)"
        try connection.executeScript(unsafeSQL: """
            INSERT INTO role (name, description, permissions, rate_per_minute, rate_per_hour, rate_burst)
            VALUES ('\(role)', 'test', '{job:read}', 1, 1000, 40)
            """)
        let principal = try PrincipalStore(connection: connection).create(
            name: "allowance-\(tag)", kind: .service, displayName: "", email: nil, passwordHash: nil, roles: [role])
        let prefix = "sy_" + String(("al" + tag + "xxxxxxxx").prefix(9))
        _ = try ApiKeyStore(connection: connection).insert(
            prefix: prefix, hash: hash, principalID: principal.id, isSession: false, scopes: ["*"], description: "",
            expiresAt: nil)
        return (prefix, principal.id)
    }

    @Test func askingForNothingCountsNothingAndStillNotesTheUse() throws {
        let key = try keyOfAFreshPrincipal()
        let found = try #require(try AuthStore(connection: connection).apiKey(
            prefix: key.prefix, hash: hash, wanted: 0, now: start))
        #expect(found.principal.id == key.principalID)
        #expect(found.rateLimit == nil)
        #expect(try connection.first(BucketRow(principalID: key.principalID)) == nil)
        #expect(try connection.first(LastUsed(prefix: key.prefix)) == start.microseconds)
    }

    @Test func aWrongSecretTakesNothing() throws {
        let key = try keyOfAFreshPrincipal()
        var wrong = hash
        wrong[0] ^= 1
        for _ in 0..<8 {
            let found = try #require(try AuthStore(connection: connection).apiKey(
                prefix: key.prefix, hash: wrong, wanted: 64, now: start))
            #expect(found.rateLimit == nil)
        }
        #expect(try connection.first(BucketRow(principalID: key.principalID)) == nil)
        #expect(try connection.first(LastUsed(prefix: key.prefix)) == .some(nil))
    }

    @Test func grantsAreAtMostAQuarterOfWhatIsLeftAndAddUpToTheBurst() throws {
        let key = try keyOfAFreshPrincipal()
        let store = AuthStore(connection: connection)
        var left = 40
        var granted: [Int] = []
        while let grant = try store.apiKey(prefix: key.prefix, hash: hash, wanted: 64, now: start)?.rateLimit,
              grant.granted > 0 {
            #expect(grant.granted == max(1, left / 4), "left \(left)")
            left -= grant.granted
            #expect(grant.decision.remaining == left)
            granted.append(grant.granted)
            if granted.count > 40 { break }
        }
        #expect(granted.reduce(0, +) == 40, "\(granted)")
        #expect(try connection.first(BucketRow(principalID: key.principalID)) == 40)
        let refused = try #require(try store.apiKey(prefix: key.prefix, hash: hash, wanted: 64, now: start)?.rateLimit)
        #expect(refused.granted == 0 && !refused.decision.isAllowed && refused.decision.retryAfterSeconds == 60)
    }
}

extension ApiKeyRateLimitTests {
    @Test func keysReadTogetherAnswerAsEachAloneWould() throws {
        let key = try keyOfAFreshPrincipal()
        let other = try keyOfAFreshPrincipal()
        var wrong = hash
        wrong[0] ^= 1
        let found = try AuthStore(connection: connection).apiKeys(
            [(key.prefix, hash, 4), ("sy_nosuchkey", hash, 1), (key.prefix, hash, 4), (other.prefix, wrong, 64),
             (other.prefix, hash, 0)],
            now: start)
        #expect(found.count == 5)
        #expect(found[1] == nil, "no key has that prefix")
        let takes = [found[0], found[2]].map { $0?.rateLimit }
        #expect(found[0]?.principal.id == key.principalID && found[2]?.principal.id == key.principalID)
        #expect(takes.map { $0?.granted } == [4, 4], "each request of the same key took what it asked for")
        #expect(Set(takes.compactMap { $0?.decision.remaining }) == [36, 32], "one after the other")
        #expect(try connection.first(BucketRow(principalID: key.principalID)) == 8)
        #expect(found[3]?.principal.id == other.principalID && found[3]?.rateLimit == nil, "a wrong secret takes nothing")
        #expect(found[4]?.rateLimit == nil, "asked for nothing")
        #expect(try connection.first(BucketRow(principalID: other.principalID)) == nil)
        #expect(try connection.first(LastUsed(prefix: other.prefix)) == start.microseconds, "noted by the right secret")
    }
}

private struct PlanCounts: Statement {
    static let sql = """
        SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'SELECT t.id, t.secret_hash%'
        """
    typealias Row = (generic: Int64, custom: Int64)
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Row { (try row.int(0), try row.int(1)) }
}

extension ApiKeyRateLimitTests {
    /// Planning the statement took about as long as running it twice: it must settle on one generic plan.
    @Test func theKeyStatementIsPlannedOnce() throws {
        let key = try keyOfAFreshPrincipal()
        let session = TestDatabase.superuser()
        for wanted in [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0] {
            _ = try AuthStore(connection: session).apiKey(prefix: key.prefix, hash: hash, wanted: wanted)
        }
        let plans = try #require(try session.first(PlanCounts()))
        #expect(plans.custom <= 5 && plans.generic >= 7, "\(plans)")
    }
}

/// `rate_limit_take` at the edges of the hourly quota.
@Suite(.enabled(if: TestDatabase.isAvailable)) struct RateLimitTakeTests {
    let store = AuthStore(connection: TestDatabase.superuser())
    let start = Timestamp(rfc3339: "2030-01-01T00:30:00Z")!

    func subjectID() -> Int64 { -Int64.random(in: 1_000_000...Int64.max / 2) }

    @Test func theHourlyQuotaCapsAGrant() throws {
        let id = subjectID()
        let limits = RateLimits(perMinute: 6000, perHour: 10, burst: 1000)
        let first = try store.takeFromRateLimit(principalID: id, limits: limits, wanted: 64, now: start)
        #expect(first.granted == 2, "a quarter of the 10 left in the hour, though the bucket holds 1,000")
        let grants = try (0..<8).map { _ in try store.takeFromRateLimit(principalID: id, limits: limits, wanted: 64, now: start).granted }
        #expect(grants.reduce(first.granted, +) == 10, "\(grants)")
        let refused = try store.takeFromRateLimit(principalID: id, limits: limits, wanted: 64, now: start)
        #expect(refused.granted == 0 && refused.decision.retryAfterSeconds == 1800, "until the hour ends")
    }

    @Test func aQuotaOfNothingGrantsNothingFromTheFirstRequest() throws {
        let refused = try store.takeFromRateLimit(
            principalID: subjectID(), limits: RateLimits(perMinute: 60, perHour: 0, burst: 10), wanted: 1, now: start)
        #expect(refused.granted == 0 && !refused.decision.isAllowed && refused.decision.remaining == 0)
        #expect(refused.decision.retryAfterSeconds == 1800)
    }
}

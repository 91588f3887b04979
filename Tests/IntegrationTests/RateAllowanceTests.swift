import Glibc
@testable import API
import Domain
import Postgres
import Store
import Testing
import Web

/// Requests taken from a bucket that refills one a minute: how far its theoretical arrival time lies ahead, in
/// minutes (rounded up, so the test's own few milliseconds do not count). Unlike `hour_count`, it does not start
/// again when the hour turns during a test.
private struct Taken: Statement {
    static let sql = """
        SELECT ceil(extract(epoch FROM tat - now()) / 60)::bigint FROM rate_limit_state WHERE subject = 'p:' || $1::bigint
        """
    typealias Row = Int64
    let principalID: Int64
    var binds: [PostgresValue] { [.int(principalID)] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

/// Allowances as one responder process keeps them, through the real pipeline against the test database: what the
/// bucket gave out shows whether a request spent the process's allowance or took from the database.
@Suite(.enabled(if: TestDatabase.isAvailable)) struct RateAllowanceTests {
    let app: App
    let services: Services
    let config: Configuration
    let key: String
    let principalID: Int64
    let session: Connection

    init() throws {
        var config = Configuration()
        config.databaseURI = TestDatabase.appURL ?? TestDatabase.url!
        self.config = config
        app = try App(config: config)
        // Allowances that outlast the test, so the counts below do not depend on how fast it runs.
        services = try Services(config: config, hub: WaitHub(), allowances: RateAllowances(lifetime: .seconds(3600)))
        session = Connection(conninfo: config.connectionString(applicationName: "allowance-test"))
        let superuser = TestDatabase.superuser()
        let name = "allowance-\(UInt32.random(in: 0...UInt32.max))"
        // One request a minute and a burst of 200: a quarter of what is left is always more than the test asks for.
        try superuser.executeScript(unsafeSQL: """
            INSERT INTO role (name, permissions, rate_per_minute, rate_per_hour, rate_burst)
            VALUES ('\(name)', '{job:read}', 1, 10000, 200)
            """)
        principalID = try PrincipalStore(connection: superuser).create(
            name: name, kind: .user, displayName: name, email: nil, passwordHash: nil, roles: [name]).id
        let secret = try ApiKeySecret.generate()
        _ = try ApiKeyStore(connection: superuser).insert(
            prefix: secret.prefix, hash: secret.hash, principalID: principalID, isSession: false, scopes: ["*"],
            description: "RateAllowanceTests", expiresAt: nil)
        key = secret.key
    }

    func taken() throws -> Int64? { try TestDatabase.superuser().first(Taken(principalID: principalID)) }

    /// `GET /me` with `presented`, received now and run `delay` later.
    func me(with presented: String, runAfter delay: Duration = .zero) -> Int {
        let request = Request(
            cgiParameters: [
                ("REQUEST_METHOD", "GET"), ("DOCUMENT_URI", "/api/v1/me"), ("HTTP_AUTHORIZATION", "Bearer \(presented)"),
                ("REQUEST_ID", "allowance-\(UInt32.random(in: 0...UInt32.max))"),
            ],
            body: [])
        let context = RequestContext(request: request, connection: session, config: config, services: services)
        if delay > .zero {
            let (seconds, attoseconds) = delay.components
            usleep(useconds_t(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
        }
        guard case .response(let response) = app.respond(to: request, context: context) else { return 0 }
        return response.status
    }

    /// The responder judges a key by when the request arrived, the database by when it reads it. A key that expired
    /// in between is still served (it was valid on arrival), and its read took nothing: the request is then taken
    /// from the bucket after the read, not served uncounted.
    @Test func aRequestWhoseReadTookNothingIsStillCounted() throws {
        let secret = try ApiKeySecret.generate()
        let arrival = SystemClock.now()
        _ = try ApiKeyStore(connection: TestDatabase.superuser()).insert(
            prefix: secret.prefix, hash: secret.hash, principalID: principalID, isSession: false, scopes: ["*"],
            description: "RateAllowanceTests, expiring", expiresAt: Timestamp(microseconds: arrival.microseconds + 1_500_000))
        #expect(me(with: secret.key) == 200)
        #expect(try taken() == 1, "a key met for the first time: one request taken")
        #expect(me(with: secret.key, runAfter: .milliseconds(2000)) == 200, "valid when it arrived")
        #expect(try taken() == 3, "two asked for with the read, which took nothing, so taken after it")
        #expect(me(with: secret.key) == 401, "expired by now")
    }

    @Test func aWrongSecretWithTheKeysPrefixLeavesTheAllowanceAlone() throws {
        #expect(me(with: key) == 200)
        #expect(me(with: key) == 200)
        #expect(try taken() == 3, "one request, then two at once")
        let wrong = String(key.dropLast()) + (key.last == "A" ? "B" : "A")
        #expect(me(with: wrong) == 401)
        #expect(me(with: key) == 200)
        #expect(try taken() == 3, "the request kept by the second take was spent, nothing new was taken")
        #expect(me(with: key) == 200)
        #expect(try taken() == 7, "then four more")
    }

    @Test func aRevokedKeyIsRefusedAtOnceThoughItsAllowanceHadRequestsLeft() throws {
        #expect(me(with: key) == 200)
        #expect(me(with: key) == 200)
        let prefix = String(key.prefix(12))
        try TestDatabase.superuser().executeScript(
            unsafeSQL: "UPDATE api_key SET revoked_at = now() - interval '1 second' WHERE prefix = '\(prefix)'")
        #expect(me(with: key) == 401)
        #expect(try taken() == 3)
    }
}

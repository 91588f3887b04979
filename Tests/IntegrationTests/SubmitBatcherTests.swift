@testable import API
import Domain
import FastCGI
import Postgres
import Store
import Testing
import Web

/// The submit batcher (Sources/API/SubmitBatcher.swift) as a responder runs it, without the FastCGI socket: requests
/// go through the real pipeline against the test database until they are queued, then a batch is committed.
@Suite(.enabled(if: TestDatabase.isAvailable)) struct SubmitBatcherTests {
    let app: App
    let config: Configuration
    let key: String

    init() throws {
        var config = Configuration()
        config.databaseURI = TestDatabase.appURL ?? TestDatabase.url!
        self.config = config
        app = try App(config: config)
        key = try Self.newKey(role: "user")
    }

    /// A key of a new principal with `role`, revoked at once when asked.
    static func newKey(role: String, revoked: Bool = false) throws -> String {
        let superuser = TestDatabase.superuser()
        let name = "batcher-\(UInt32.random(in: 0...UInt32.max))"
        let principal = try PrincipalStore(connection: superuser).create(
            name: name, kind: .user, displayName: name, email: nil, passwordHash: nil, roles: [role])
        let secret = try ApiKeySecret.generate()
        _ = try ApiKeyStore(connection: superuser).insert(
            prefix: secret.prefix, hash: secret.hash, principalID: principal.id, isSession: false, scopes: ["*"],
            description: "SubmitBatcherTests", expiresAt: nil)
        if revoked { _ = try ApiKeyStore(connection: superuser).revoke(prefix: secret.prefix, ownerFilter: nil) }
        return secret.key
    }

    static func submitRequest(
        name: String, headers: [(String, String)], body: String? = nil, method: String = "POST",
        path: String = "/api/v1/jobs"
    ) -> Request {
        let parameters = [
            ("REQUEST_METHOD", method), ("DOCUMENT_URI", path), ("CONTENT_TYPE", "application/json"),
            ("REQUEST_ID", "batcher-\(name)"),
        ] + headers
        let body = body ?? #"{"name": "\#(name)", "target": "sim-statevector", "kind": "command", "program": {}}"#
        return Request(cgiParameters: parameters, body: Array(body.utf8))
    }

    /// A submit as a worker hands it over on arrival, before authentication.
    func arrived(name: String, key: String, body: String? = nil, idempotencyKey: String? = nil) -> BatchedSubmit {
        var headers = [("HTTP_X_API_KEY", key)]
        if let idempotencyKey { headers.append(("HTTP_IDEMPOTENCY_KEY", idempotencyKey)) }
        let request = Self.submitRequest(name: name, headers: headers, body: body)
        let context = RequestContext(request: request, connection: connection(), config: config, services: app.services)
        return BatchedSubmit(slot: FastCGIRequest(), request: request, context: context, reason: .arrived)
    }

    func connection() -> Connection {
        Connection(conninfo: config.connectionString(applicationName: "batcher-test", deferJobNotifications: true))
    }

    /// Runs the first pass of a submit, which must end queued for the batcher.
    func queued(name: String, idempotencyKey: String? = nil) throws -> BatchedSubmit {
        var headers = [("HTTP_AUTHORIZATION", "Bearer \(key)")]
        if let idempotencyKey { headers.append(("HTTP_IDEMPOTENCY_KEY", idempotencyKey)) }
        let request = Self.submitRequest(name: name, headers: headers)
        let context = RequestContext(request: request, connection: connection(), config: config, services: app.services)
        let outcome = app.respond(to: request, context: context)
        guard case .queued(let queued) = outcome else { throw QueueingFailed(outcome: outcome) }
        return BatchedSubmit(slot: FastCGIRequest(), request: request, context: context, reason: .validated(queued.submission))
    }

    @Test func aBatchCommitsEveryJobWithItsAuditRow() throws {
        let batch = try (0..<3).map { try queued(name: "together-\($0)") }
        let responses = app.services.submits.serve(batch, app: app, connection: connection()).map(\.response)
        #expect(responses.map(\.status) == [201, 201, 201])
        let locations = Set(responses.compactMap { $0.headers.first { $0.name == "Location" }?.value })
        #expect(locations.count == 3, "three jobs")
        #expect(batch.allSatisfy { $0.context.isAudited }, "each audit row committed with the jobs")
        let rows = try TestDatabase.superuser().first(CreatedAuditRows(requestIDs: batch.map(\.context.requestID)))
        #expect(rows == 3)
        let audited = try TestDatabase.superuser().rows(CreatedAuditJobs(requestIDs: batch.map(\.context.requestID)))
        let answered = responses.compactMap { $0.headers.first { $0.name == "Location" }?.value }
        #expect(audited.map { "/api/v1/jobs/\($0.jobID)" } == answered, "each row names its request's job")
    }

    /// Submits that came as they arrived are authenticated together (their keys read in one statement), each then
    /// meets the whole chain: a revoked key, a wrong secret, a missing permission and an invalid body are answered
    /// with their problems, and the others are committed together.
    @Test func arrivalsAreAuthenticatedAndCheckedBeforeTheirBatchCommits() throws {
        let revoked = try Self.newKey(role: "user", revoked: true)
        let viewer = try Self.newKey(role: "viewer")
        let wrongSecret = String(key.dropLast()) + (key.hasSuffix("A") ? "B" : "A")
        let taken = [
            arrived(name: "arrived-1", key: key), arrived(name: "revoked", key: revoked),
            arrived(name: "wrong-secret", key: wrongSecret), arrived(name: "viewer", key: viewer),
            arrived(name: "invalid", key: key, body: #"{"name": "", "target": "sim-statevector"}"#),
            arrived(name: "arrived-2", key: key),
        ]
        let answers = app.services.submits.serve(taken, app: app, connection: connection())
        let statuses = Dictionary(uniqueKeysWithValues: answers.map { ($0.submit.context.requestID, $0.response.status) })
        #expect(statuses == [
            "batcher-arrived-1": 201, "batcher-arrived-2": 201, "batcher-revoked": 401, "batcher-wrong-secret": 401,
            "batcher-viewer": 403, "batcher-invalid": 400,
        ])
        let bodies = Dictionary(uniqueKeysWithValues: answers.map { ($0.submit.context.requestID, $0.response) })
        #expect(Self.text(of: bodies["batcher-revoked"]).contains("revoked-credential"))
        #expect(Self.text(of: bodies["batcher-invalid"]).contains("name"))
        let created = answers.filter { $0.response.status == 201 }
        #expect(created.allSatisfy { answer in answer.response.headers.contains { $0.name == "RateLimit-Remaining" } })
        #expect(created.allSatisfy { $0.submit.context.isAudited })
        let rows = try TestDatabase.superuser().first(CreatedAuditRows(requestIDs: created.map(\.submit.context.requestID)))
        #expect(rows == 2)
    }

    /// One owner's Idempotency-Key twice among arrivals: the second waits for the next batch and replays the first.
    @Test func arrivalsWithOneIdempotencyKeyGoInTwoBatches() throws {
        let idempotencyKey = "arrived-key-\(UInt32.random(in: 0...UInt32.max))"
        let batcher = SubmitBatcher()
        let body = #"{"name": "keyed", "target": "sim-statevector", "kind": "command", "program": {}}"#
        let taken = [
            arrived(name: "first", key: key, body: body, idempotencyKey: idempotencyKey),
            arrived(name: "second", key: key, body: body, idempotencyKey: idempotencyKey),
        ]
        let connection = connection()
        let firstAnswers = batcher.serve(taken, app: app, connection: connection)
        #expect(firstAnswers.map(\.submit.context.requestID) == ["batcher-first"])
        #expect(firstAnswers.map(\.response.status) == [201])
        let next = try #require(batcher.nextBatch())
        #expect(next.map(\.context.requestID) == ["batcher-second"])
        #expect(next.allSatisfy { $0.submission != nil }, "it comes back authenticated and validated")
        #expect(batcher.serve(next, app: app, connection: connection).map(\.response.status) == [200])
        #expect(!next[0].context.isAudited, "a replay changes nothing: it is audited after its answer, as reads are")
    }

    /// Workers hand over on arrival only a batched route's requests that present an API key; any other (a token, no
    /// credentials, another route, an oversized body) goes through the chain on its worker first.
    @Test func onlyKeyedSubmitsComeOnArrival() {
        let batcher = SubmitBatcher()
        let router = app.router
        func takes(_ headers: [(String, String)], method: String = "POST", path: String = "/api/v1/jobs") -> Bool {
            batcher.takesOnArrival(
                Self.submitRequest(name: "routing", headers: headers, method: method, path: path), router: router)
        }
        #expect(takes([("HTTP_X_API_KEY", key)]))
        #expect(takes([("HTTP_AUTHORIZATION", "Bearer \(key)")]))
        #expect(!takes([("HTTP_AUTHORIZATION", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln")]))
        #expect(!takes([]))
        #expect(!takes([("HTTP_X_API_KEY", key)], method: "GET"))
        #expect(!takes([("HTTP_X_API_KEY", key)], path: "/api/v1/keys"))
        var oversized = Self.submitRequest(name: "oversized", headers: [("HTTP_X_API_KEY", key)])
        oversized.bodyExceedsLimit = true
        #expect(!batcher.takesOnArrival(oversized, router: router))
    }

    static func text(of response: Response?) -> String {
        guard case .bytes(let bytes)? = response?.body else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A submission the database refuses (here one the handler's checks would have stopped, changed after them)
    /// fails the batch's transaction; the batch is then tried one submit at a time, so only that one fails.
    @Test func aSubmissionTheDatabaseRefusesDoesNotFailItsBatch() throws {
        let good = try (0..<2).map { try queued(name: "kept-\($0)") }
        let refused = try queued(name: "refused")
        var tooLong = try #require(refused.submission)
        tooLong.name = String(repeating: "x", count: 101)
        let bad = BatchedSubmit(slot: FastCGIRequest(), request: refused.request, context: refused.context, reason: .validated(tooLong))
        let responses = app.services.submits.serve([good[0], bad, good[1]], app: app, connection: connection()).map(\.response)
        #expect(responses.map(\.status) == [201, 400, 201])
        #expect(good.allSatisfy { $0.context.isAudited })
        #expect(!bad.context.isAudited, "a refused request is audited after its answer, outside the transaction")
    }

    /// One owner's Idempotency-Key twice in a row goes in two batches: the second finds the first one's job.
    @Test func aRepeatedIdempotencyKeyWaitsForTheNextBatch() throws {
        let idempotencyKey = "batcher-key-\(UInt32.random(in: 0...UInt32.max))"
        let batcher = SubmitBatcher()
        let first = try queued(name: "keyed", idempotencyKey: idempotencyKey)
        let other = try queued(name: "unkeyed")
        let second = try queued(name: "keyed", idempotencyKey: idempotencyKey)
        for submit in [first, other, second] { batcher.enqueue(submit) }
        let batches = [batcher.nextBatch(), batcher.nextBatch()]
        try #require(batches.allSatisfy { $0 != nil })
        let requestIDs = batches.map { $0?.map(\.context.requestID) }
        #expect(requestIDs == [
            ["batcher-keyed", "batcher-unkeyed"], ["batcher-keyed"],
        ])
        let connection = connection()
        let statuses = batches.compactMap { $0 }.flatMap { batcher.serve($0, app: app, connection: connection).map(\.response) }
            .map(\.status)
        #expect(statuses == [201, 201, 200])
    }

    /// The committing thread takes what was admitted in order, one owner's Idempotency-Key once a group, and stops
    /// once admitting is over and nothing is left.
    @Test func admittedSubmitsCommitInGroupsWithEachKeyOnce() throws {
        let idempotencyKey = "admitted-key-\(UInt32.random(in: 0...UInt32.max))"
        let batcher = SubmitBatcher()
        let submits = try [
            queued(name: "a", idempotencyKey: idempotencyKey), queued(name: "b"),
            queued(name: "c", idempotencyKey: idempotencyKey),
        ]
        batcher.handOver(try submits.map { ($0, try #require($0.submission)) })
        let first = try #require(batcher.nextAdmittedBatch())
        #expect(first.map(\.submit.context.requestID) == ["batcher-a", "batcher-b"])
        batcher.endAdmitting()
        let second = try #require(batcher.nextAdmittedBatch())
        #expect(second.map(\.submit.context.requestID) == ["batcher-c"], "the repeated key waited for the next group")
        #expect(batcher.nextAdmittedBatch() == nil, "admitting is over and nothing is left")
    }

    /// A stopping responder commits and answers what is queued before its batching thread ends.
    @Test func shuttingDownHandsOutWhatIsQueuedFirst() throws {
        let batcher = SubmitBatcher()
        for index in 0..<3 { batcher.enqueue(try queued(name: "draining-\(index)")) }
        batcher.shutDown()
        let last = try #require(batcher.nextBatch()).map(\.context.requestID)
        #expect(last == ["batcher-draining-0", "batcher-draining-1", "batcher-draining-2"])
        #expect(batcher.nextBatch() == nil, "then the thread stops")
    }

    /// After a busy batch, submits are still pouring in: the batcher gathers up to `gatherTarget` (or its window)
    /// before it takes the next batch. After a small one it takes the next at once.
    @Test func aBusyBatcherGathersAndAQuietOneDoesNot() throws {
        let batcher = SubmitBatcher(gatherWindowNanoseconds: 3_600_000_000_000)
        #expect(!batcher.gathersBeforeNextBatch)
        for index in 0..<SubmitBatcher.busyBatch { batcher.enqueue(try queued(name: "busy-\(index)")) }
        #expect(batcher.nextBatch()?.count == SubmitBatcher.busyBatch)
        #expect(batcher.gathersBeforeNextBatch)
        // With its target queued, a gathering batcher does not wait out its (hour-long) window.
        for index in 0..<SubmitBatcher.gatherTarget { batcher.enqueue(try queued(name: "gathered-\(index)")) }
        #expect(batcher.nextBatch()?.count == SubmitBatcher.gatherTarget)
        batcher.enqueue(try queued(name: "after-busy"))
        batcher.shutDown()
        #expect(batcher.nextBatch()?.map(\.context.requestID) == ["batcher-after-busy"], "shutting down ends a gather")
        #expect(!batcher.gathersBeforeNextBatch, "a batch of one is not busy")
    }

    /// A queue that the database does not drain fast enough stops taking submits (they get 503) until it does.
    @Test func aFullQueueHasNoRoom() throws {
        let batcher = SubmitBatcher()
        let submit = try queued(name: "full")
        let submission = try #require(submit.submission)
        for _ in 0..<SubmitBatcher.maximumQueued {
            #expect(batcher.hasRoom(for: submission))
            batcher.enqueue(submit)
        }
        #expect(!batcher.hasRoom(for: submission))
        #expect(batcher.nextBatch()?.count == SubmitBatcher.maximumBatch)
        #expect(batcher.hasRoom(for: submission), "a batch taken frees its places")
    }

    /// The queue is bounded by program bytes too: twelve 10 MB programs fit under 128 MB, a thirteenth does not.
    @Test func aQueueOfLargeProgramsHasNoRoom() throws {
        let batcher = SubmitBatcher()
        let submit = try queued(name: "heavy")
        let small = try #require(submit.submission)
        var submission = small
        submission.program = String(repeating: "x", count: 10 * 1024 * 1024)
        let heavy = BatchedSubmit(
            slot: FastCGIRequest(), request: submit.request, context: submit.context, reason: .validated(submission))
        for _ in 0..<12 {
            #expect(batcher.hasRoom(for: submission))
            batcher.enqueue(heavy)
        }
        #expect(!batcher.hasRoom(for: submission))
        #expect(batcher.hasRoom(for: small), "a small one still fits")
        #expect(batcher.nextBatch()?.count == 1, "4 MB a batch: a 10 MB program goes alone")
        #expect(batcher.hasRoom(for: submission), "a batch taken frees its bytes")
    }

    /// Large programs go in batches of their own size: 3 MB and 3 MB do not share one (4 MB at most), a small one
    /// joins the first that has room.
    @Test func largeProgramsSplitBatches() throws {
        let batcher = SubmitBatcher()
        for (index, size) in [3_000_000, 3_000_000, 100].enumerated() {
            let submit = try queued(name: "large-\(index)")
            var submission = try #require(submit.submission)
            submission.program = "{\"blob\": \"" + String(repeating: "x", count: size) + "\"}"
            batcher.enqueue(BatchedSubmit(slot: FastCGIRequest(), request: submit.request, context: submit.context,
                                          reason: .validated(submission)))
        }
        let first = try #require(batcher.nextBatch()).map(\.context.requestID)
        let second = try #require(batcher.nextBatch()).map(\.context.requestID)
        #expect(first == ["batcher-large-0", "batcher-large-2"])
        #expect(second == ["batcher-large-1"])
    }
}

private struct CreatedAuditRows: Statement {
    static let sql = """
        SELECT count(*) FROM audit_log WHERE request_id = ANY ($1::text[]) AND event = 'job.created' AND status = 201
        """
    typealias Row = Int64
    let requestIDs: [String]
    var binds: [PostgresValue] { [.textArray(requestIDs)] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

private struct CreatedAuditJobs: Statement {
    static let sql = """
        SELECT request_id, (detail->>'job_id')::bigint FROM audit_log
        WHERE request_id = ANY ($1::text[]) AND event = 'job.created' ORDER BY request_id
        """
    typealias Row = (requestID: String, jobID: Int64)
    let requestIDs: [String]
    var binds: [PostgresValue] { [.textArray(requestIDs)] }
    static func decode(_ row: ResultRow) throws -> Row { (try row.string(0), try row.int(1)) }
}

private struct QueueingFailed: Error, CustomStringConvertible {
    let description: String

    init(outcome: Outcome) {
        guard case .response(let response) = outcome, case .bytes(let bytes) = response.body else {
            description = "parked"
            return
        }
        description = "\(response.status): \(String(decoding: bytes, as: UTF8.self))"
    }
}

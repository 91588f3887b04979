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
        let superuser = TestDatabase.superuser()
        let name = "batcher-\(UInt32.random(in: 0...UInt32.max))"
        let principal = try PrincipalStore(connection: superuser).create(
            name: name, kind: .user, displayName: name, email: nil, passwordHash: nil, roles: ["user"])
        let secret = try ApiKeySecret.generate()
        _ = try ApiKeyStore(connection: superuser).insert(
            prefix: secret.prefix, hash: secret.hash, principalID: principal.id, isSession: false, scopes: ["*"],
            description: "SubmitBatcherTests", expiresAt: nil)
        key = secret.key
    }

    func connection() -> Connection {
        Connection(conninfo: config.connectionString(applicationName: "batcher-test", deferJobNotifications: true))
    }

    /// Runs the first pass of a submit, which must end queued for the batcher.
    func queued(name: String, idempotencyKey: String? = nil) throws -> BatchedSubmit {
        var parameters = [
            ("REQUEST_METHOD", "POST"), ("DOCUMENT_URI", "/api/v1/jobs"), ("CONTENT_TYPE", "application/json"),
            ("HTTP_AUTHORIZATION", "Bearer \(key)"), ("REQUEST_ID", "batcher-\(name)"),
        ]
        if let idempotencyKey { parameters.append(("HTTP_IDEMPOTENCY_KEY", idempotencyKey)) }
        let body = #"{"name": "\#(name)", "target": "sim-statevector", "kind": "command", "program": {}}"#
        let request = Request(cgiParameters: parameters, body: Array(body.utf8))
        let context = RequestContext(request: request, connection: connection(), config: config, services: app.services)
        let outcome = app.respond(to: request, context: context)
        guard case .queued(let queued) = outcome else { throw QueueingFailed(outcome: outcome) }
        return BatchedSubmit(slot: FastCGIRequest(), request: request, context: context, reason: queued.submission)
    }

    @Test func aBatchCommitsEveryJobWithItsAuditRow() throws {
        let batch = try (0..<3).map { try queued(name: "together-\($0)") }
        let responses = app.services.submits.commit(batch, app: app, connection: connection())
        #expect(responses.map(\.status) == [201, 201, 201])
        let locations = Set(responses.compactMap { $0.headers.first { $0.name == "Location" }?.value })
        #expect(locations.count == 3, "three jobs")
        #expect(batch.allSatisfy { $0.context.isAudited }, "each audit row committed with the jobs")
        let rows = try TestDatabase.superuser().first(CreatedAuditRows(requestIDs: batch.map(\.context.requestID)))
        #expect(rows == 3)
    }

    /// A submission the database refuses (here one the handler's checks would have stopped, changed after them)
    /// fails the batch's transaction; the batch is then tried one submit at a time, so only that one fails.
    @Test func aSubmissionTheDatabaseRefusesDoesNotFailItsBatch() throws {
        let good = try (0..<2).map { try queued(name: "kept-\($0)") }
        let refused = try queued(name: "refused")
        var tooLong = refused.submission
        tooLong.name = String(repeating: "x", count: 101)
        let bad = BatchedSubmit(slot: FastCGIRequest(), request: refused.request, context: refused.context, reason: tooLong)
        let responses = app.services.submits.commit([good[0], bad, good[1]], app: app, connection: connection())
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
        let statuses = batches.compactMap { $0 }.flatMap { batcher.commit($0, app: app, connection: connection) }
            .map(\.status)
        #expect(statuses == [201, 201, 200])
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
        for _ in 0..<SubmitBatcher.maximumQueued {
            #expect(batcher.hasRoom(for: submit.submission))
            batcher.enqueue(submit)
        }
        #expect(!batcher.hasRoom(for: submit.submission))
        #expect(batcher.nextBatch()?.count == SubmitBatcher.maximumBatch)
        #expect(batcher.hasRoom(for: submit.submission), "a batch taken frees its places")
    }

    /// The queue is bounded by program bytes too: twelve 10 MB programs fit under 128 MB, a thirteenth does not.
    @Test func aQueueOfLargeProgramsHasNoRoom() throws {
        let batcher = SubmitBatcher()
        let submit = try queued(name: "heavy")
        var submission = submit.submission
        submission.program = String(repeating: "x", count: 10 * 1024 * 1024)
        let heavy = BatchedSubmit(slot: FastCGIRequest(), request: submit.request, context: submit.context, reason: submission)
        for _ in 0..<12 {
            #expect(batcher.hasRoom(for: submission))
            batcher.enqueue(heavy)
        }
        #expect(!batcher.hasRoom(for: submission))
        #expect(batcher.hasRoom(for: submit.submission), "a small one still fits")
        #expect(batcher.nextBatch()?.count == 1, "4 MB a batch: a 10 MB program goes alone")
        #expect(batcher.hasRoom(for: submission), "a batch taken frees its bytes")
    }

    /// Large programs go in batches of their own size: 3 MB and 3 MB do not share one (4 MB at most), a small one
    /// joins the first that has room.
    @Test func largeProgramsSplitBatches() throws {
        let batcher = SubmitBatcher()
        for (index, size) in [3_000_000, 3_000_000, 100].enumerated() {
            let submit = try queued(name: "large-\(index)")
            var submission = submit.submission
            submission.program = "{\"blob\": \"" + String(repeating: "x", count: size) + "\"}"
            batcher.enqueue(BatchedSubmit(slot: FastCGIRequest(), request: submit.request, context: submit.context,
                                          reason: submission))
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

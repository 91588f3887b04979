import Domain
import FastCGI
import Postgres
import Store
import Web

/// Thrown by the submit handler once a submission is valid: the worker hands the request to the process's
/// `SubmitBatcher` and goes back to accepting.
public struct QueuedSubmit: Handoff {
    let submission: JobSubmission
}

/// How far a request waiting in the `SubmitBatcher` has come.
enum SubmitStage {
    /// As it arrived: the batcher authenticates it with the other arrivals of its batch, in one statement, and
    /// validates it.
    case arrived
    /// Authenticated and valid: a worker ran it up to its handler (a credential other than an API key), or the
    /// batcher did and it waits for the next batch (its owner's Idempotency-Key was in this one).
    case validated(JobSubmission)
}

/// A submit waiting in the `SubmitBatcher`.
typealias BatchedSubmit = HandedOffRequest<SubmitStage>

extension HandedOffRequest where Reason == SubmitStage {
    var submission: JobSubmission? {
        if case .validated(let submission) = reason { submission } else { nil }
    }
}

/// A submit ready for the batch's transaction.
typealias ValidSubmit = (submit: BatchedSubmit, submission: JobSubmission)

/// Group commit for submits, in two stages on two threads per process, so that one group is admitted while the one
/// before it commits. The admitting thread takes every submit that arrived while the previous group was being
/// admitted. A submit with an API key comes here as it arrived: the group's keys are read in one statement on this
/// thread's connection (`Authenticator.readPreparedKeys`), each request then goes through the whole chain
/// (authentication, rate limit, permission, validation) here, and the refused are answered at once. A worker's own
/// round trip for each submit's key cost its backend about three times what the read itself costs, in wake-ups and
/// cold caches, and one statement for the group costs a fifth of one for each key (docs/performance.md). The
/// committing thread takes every submit admitted while it committed the previous group and commits them in one
/// transaction and one round trip (`JobStore.submitAndCommit`; sql/migrations/0013_submits_in_batches.sql), each job
/// with its audit row, nothing answered before the flush. Most of a submit's database cost is per statement and per
/// transaction, so a group of 16 costs about a sixth as much a job as one alone. A lone submit goes at once, as a
/// group of one. Only while submits pour in (the last group held `busyBatch` or more) does the admitting thread wait
/// up to its gather window (1 ms) for more, as PostgreSQL's `commit_delay` does: the next group then costs less a job.
/// The two stages pay where groups are large: one process on two cores with its two threads made 7.9-8.2k submits a
/// second where two processes with one thread each made 6.8-7.6k, and two processes with two threads each less
/// (docs/performance.md).
final class SubmitBatcher: @unchecked Sendable {
    /// Submits committed together at most, which bounds a batch's statement and its row locks.
    static let maximumBatch = 64
    /// Program and metadata bytes committed together at most (a larger submit goes alone), which bounds the
    /// memory a batch's statement takes here and in the server.
    static let maximumBatchBytes = 4 * 1024 * 1024
    /// A batch this large shows a busy process, where waiting for more pays; a few clients submitting side by side
    /// (smaller batches) are not kept waiting.
    static let busyBatch = 4
    /// A busy batcher commits once this many are queued, or when its window ends.
    static let gatherTarget = maximumBatch / 2
    /// Submits waiting for the batching thread at most, by number and by program and metadata bytes: a database
    /// that has slowed down must not let the queue (and its requests' memory) grow without bound. Past either, a
    /// submit is refused with 503 before it is queued.
    static let maximumQueued = 1024
    static let maximumQueuedBytes = 128 * 1024 * 1024

    /// How long a busy batcher waits for more submits: a small part of a submit's latency under load.
    private let gatherWindowNanoseconds: UInt64

    private let lock = ConditionLock()
    private var queue: [BatchedSubmit] = []
    private var isShuttingDown = false
    private var previousBatchCount = 0
    private var queuedBytes = 0

    /// Admitted submits waiting for the committing thread, and whether the admitting thread has stopped.
    private let commitLock = ConditionLock()
    private var admitted: [ValidSubmit] = []
    private var isAdmittingOver = false
    /// Admitted submits waiting at most: past this the admitting thread waits, and arrivals wait in `queue`, whose
    /// limits then apply.
    static let maximumAdmitted = 2 * maximumBatch

    /// Whether the next batch waits up to the gather window for more submits: the last one was a busy batch.
    var gathersBeforeNextBatch: Bool { lock.withLock { previousBatchCount >= Self.busyBatch } }

    init(gatherWindowNanoseconds: UInt64 = 1_000_000) {
        self.gatherWindowNanoseconds = gatherWindowNanoseconds
    }

    /// Wakes the batching thread only when it has something to do: the first submit of an empty queue, or the one
    /// that ends its gather window early. Each wake-up in between would cost two context switches for nothing.
    func enqueue(_ submit: BatchedSubmit) {
        lock.withLock {
            queue.append(submit)
            queuedBytes += Self.size(of: submit)
            if queue.count == 1 || queue.count == Self.gatherTarget { lock.signal() }
        }
    }

    /// Puts a submit that must wait for the next batch back at the head of the queue (on the batching thread).
    private func requeue(_ submit: BatchedSubmit) {
        lock.withLock {
            queue.insert(submit, at: 0)
            queuedBytes += Self.size(of: submit)
        }
    }

    /// Whether a submission of this size may be queued now.
    func hasRoom(for submission: JobSubmission) -> Bool {
        hasRoom(bytes: Self.size(of: submission))
    }

    private func hasRoom(bytes: Int) -> Bool {
        lock.withLock { queue.count < Self.maximumQueued && queuedBytes + bytes <= Self.maximumQueuedBytes }
    }

    /// Whether a request comes here as it arrives, before authentication: one for a batched route that presents an
    /// API key, while there is room for its body. Any other goes through the chain on its worker first.
    func takesOnArrival(_ request: Request, router: Router<RequestContext>) -> Bool {
        guard !request.bodyExceedsLimit, router.batchedMethods.contains(request.method),
            case .key = Authenticator.presented(request),
            case .found(let route, _) = router.match(method: request.method, path: request.path), route.isBatched
        else { return false }
        return hasRoom(bytes: request.body.count)
    }

    private static func size(of submission: JobSubmission) -> Int {
        submission.program.utf8.count + submission.metadataJSON.utf8.count
    }

    /// An arrival is measured by its body, which holds its program and metadata.
    private static func size(of submit: BatchedSubmit) -> Int {
        submit.submission.map(size(of:)) ?? submit.request.body.count
    }

    /// Lets the batching thread answer what is queued and stop.
    func shutDown() {
        lock.withLock {
            isShuttingDown = true
            lock.broadcast()
        }
    }

    /// The next batch: queued submits in arrival order, within `maximumBatch` and `maximumBatchBytes`, and never
    /// one owner's Idempotency-Key twice among the validated (one statement cannot insert a key twice; the later one
    /// waits for the next batch and then finds the first one's job; `admit` applies the rule to arrivals once they
    /// are authenticated). Nil once shut down with nothing queued.
    func nextBatch() -> [BatchedSubmit]? {
        lock.withLock {
            while queue.isEmpty {
                if isShuttingDown { return nil }
                lock.wait()
            }
            if previousBatchCount >= Self.busyBatch {
                let deadline = SystemClock.monotonicNanoseconds() + gatherWindowNanoseconds
                while queue.count < Self.gatherTarget, !isShuttingDown, lock.wait(until: deadline) {}
            }
            let (batch, later, bytes) = Self.group(
                queue, idempotencyKey: { $0.submission.flatMap(Self.idempotencyKey) }, size: Self.size(of:))
            queue = later
            queuedBytes -= bytes
            previousBatchCount = batch.count
            return batch
        }
    }

    /// Splits `waiting` into the next group (in order, within `maximumBatch` and `maximumBatchBytes`, one owner's
    /// Idempotency-Key once) and what waits for a later one; `bytes` is the group's size.
    private static func group<Item>(
        _ waiting: [Item], idempotencyKey: (Item) -> String?, size: (Item) -> Int
    ) -> (group: [Item], later: [Item], bytes: Int) {
        var group: [Item] = []
        var bytes = 0
        var keys: Set<String> = []
        var later: [Item] = []
        for item in waiting {
            let key = idempotencyKey(item)
            let itemSize = size(item)
            let fits = group.isEmpty || (group.count < maximumBatch && bytes + itemSize <= maximumBatchBytes)
            if !fits || key.map(keys.contains) == true {
                later.append(item)
            } else {
                if let key { keys.insert(key) }
                bytes += itemSize
                group.append(item)
            }
        }
        return (group, later, bytes)
    }

    /// The owner's Idempotency-Key, which one batch may hold once.
    private static func idempotencyKey(of submission: JobSubmission) -> String? {
        submission.idempotencyKey.map { "\(submission.ownerID):\($0)" }
    }

    /// Runs on the admitting thread with its own connection until shut down: authenticates and validates each batch
    /// of arrivals, answers the refused, and hands the valid to the committing thread, which commits one group while
    /// this thread admits the next.
    func runAdmitting(app: App, config: Configuration) {
        let connection = Connection(
            conninfo: config.connectionString(
                applicationName: "switchyard-fcgi", asynchronousCommit: true, deferJobNotifications: true))
        let log = config.logRequests ? RequestLogBuffer() : nil
        let audit = AuditBuffer()
        while let taken = nextBatch() {
            for submit in taken {
                submit.context.connection = connection
                submit.context.log = log
                submit.context.audit = audit
            }
            let (batch, refused) = admit(taken, app: app, connection: connection)
            for (submit, response) in refused {
                app.deliver(response, on: submit.slot, context: submit.context)
            }
            audit.flush(connection: connection)
            log?.flush()
            handOver(batch)
        }
        endAdmitting()
        audit.flushBeforeExit(connection: connection)
        connection.close()
    }

    /// Tells the committing thread that nothing more will be admitted: it stops once what was admitted is committed.
    func endAdmitting() {
        commitLock.withLock {
            isAdmittingOver = true
            commitLock.broadcast()
        }
    }

    /// Runs on the committing thread with its own connection until the admitting thread has stopped and everything
    /// it admitted is committed and answered.
    func runCommitting(app: App, config: Configuration) {
        let connection = Connection(
            conninfo: config.connectionString(
                applicationName: "switchyard-fcgi", asynchronousCommit: true, deferJobNotifications: true))
        let log = config.logRequests ? RequestLogBuffer() : nil
        let audit = AuditBuffer()
        while let batch = nextAdmittedBatch() {
            for (submit, _) in batch {
                submit.context.connection = connection
                submit.context.log = log
                submit.context.audit = audit
                submit.context.isResumed = true
            }
            for ((submit, _), response) in zip(batch, commit(batch, app: app, connection: connection)) {
                app.deliver(response, on: submit.slot, context: submit.context)
            }
            audit.flush(connection: connection)
            log?.flush()
        }
        audit.flushBeforeExit(connection: connection)
        connection.close()
    }

    /// Passes admitted submits to the committing thread, waiting while it has `maximumAdmitted` or more to commit.
    func handOver(_ batch: [ValidSubmit]) {
        guard !batch.isEmpty else { return }
        commitLock.withLock {
            while admitted.count >= Self.maximumAdmitted { commitLock.wait() }
            admitted += batch
            commitLock.broadcast()
        }
    }

    /// The next group to commit: admitted submits in order, within `maximumBatch` and `maximumBatchBytes`, one
    /// owner's Idempotency-Key once (a repeat waits for the next group). Nil once admitting is over and nothing is
    /// left.
    func nextAdmittedBatch() -> [ValidSubmit]? {
        commitLock.withLock {
            while admitted.isEmpty {
                if isAdmittingOver { return nil }
                commitLock.wait()
            }
            let (batch, later, _) = Self.group(
                admitted, idempotencyKey: { Self.idempotencyKey(of: $0.submission) }, size: { Self.size(of: $0.submission) })
            admitted = later
            commitLock.broadcast()
            return batch
        }
    }

    /// What the two threads do with a batch taken from the queue, one after the other on one connection:
    /// authenticates and validates its arrivals, commits the valid submits in one transaction and returns the answer
    /// of each request, the refused first. A submit put back for the next batch has no answer yet. The tests' way
    /// through both stages.
    func serve(
        _ taken: [BatchedSubmit], app: App, connection: Connection
    ) -> [(submit: BatchedSubmit, response: Response)] {
        let (batch, refused) = admit(taken, app: app, connection: connection)
        guard !batch.isEmpty else { return refused }
        for (submit, _) in batch { submit.context.isResumed = true }
        let responses = commit(batch, app: app, connection: connection)
        return refused + zip(batch, responses).map { ($0.submit, $1) }
    }

    /// Authenticates the arrivals of `taken` (their keys read in one statement) and runs each through the chain up to
    /// its handler: the valid join the batch, the others come back with their answers. An arrival whose owner's
    /// Idempotency-Key is already in the batch waits for the next one.
    private func admit(
        _ taken: [BatchedSubmit], app: App, connection: Connection
    ) -> (batch: [ValidSubmit], refused: [(submit: BatchedSubmit, response: Response)]) {
        let authenticator = app.services.authenticator
        authenticator.readPreparedKeys(
            of: taken.compactMap {
                $0.submission == nil && authenticator.prepareKeyRead($0.request, context: $0.context) ? $0.context : nil
            },
            connection: connection)
        var batch: [ValidSubmit] = []
        var refused: [(submit: BatchedSubmit, response: Response)] = []
        var keys: Set<String> = []
        for submit in taken {
            let valid: BatchedSubmit
            if submit.submission != nil {
                valid = submit
            } else {
                switch app.respond(to: submit.request, context: submit.context) {
                case .response(let response):
                    refused.append((submit, response))
                    continue
                case .parked(let park):
                    app.services.hub.park(
                        ParkedRequest(slot: submit.slot, request: submit.request, context: submit.context, reason: park))
                    continue
                case .queued(let queued):
                    valid = BatchedSubmit(
                        slot: submit.slot, request: submit.request, context: submit.context,
                        reason: .validated(queued.submission))
                }
            }
            guard let submission = valid.submission else { continue }
            if let key = Self.idempotencyKey(of: submission) {
                guard keys.insert(key).inserted else {
                    requeue(valid)
                    continue
                }
            }
            batch.append((valid, submission))
        }
        return (batch, refused)
    }

    private static func mayBeOneSubmissionsFault(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return true }
        switch error.sqlState {
        case .connectionException, .insufficientResources, .operatorIntervention, .objectNotInPrerequisiteState:
            return false
        default:
            return true
        }
    }

    /// Submits `batch` in one transaction and one round trip, with the audit rows of the submits that create their
    /// job (`JobStore.submitAndCommit`), then answers each request from its outcome (the handler runs again and
    /// renders it). The other answers (a replay, a reused Idempotency-Key) change nothing and are audited after they
    /// are sent, as reads are. If a statement fails, a batch of several is tried again one submit at a time, so that
    /// one bad submission cannot fail the others; a lone one answers with its error.
    private func commit(_ batch: [ValidSubmit], app: App, connection: Connection) -> [Response] {
        let createdAudit = batch.map { submit, _ in
            var entry = submit.context.auditEntry(status: JobRoutes.createdStatus)
            entry.event = JobRoutes.createdEvent
            return entry
        }
        do {
            let (outcomes, announcementFailure) = try connection.transaction(synchronousCommit: true) {
                try JobStore(connection: connection).submitAndCommit(batch.map(\.submission), createdAudit: createdAudit)
            }
            if let announcementFailure {
                // The jobs are committed; their long-polls answer when their wait ends instead of at once.
                Log.message(.warn, "job changes not announced", [("error", .string(String(reflecting: announcementFailure)))])
            }
            for ((submit, _), outcome) in zip(batch, outcomes) {
                submit.context.submitOutcome = .success(outcome)
                if case .created = outcome { submit.context.isAudited = true }
            }
        } catch {
            // A statement's error rolled the whole batch back: when it may be one submission's fault (a rule of
            // the data), each submit is tried alone. A lost connection may have lost the COMMIT's answer rather
            // than the COMMIT, so then nothing is sent again: every request answers with the error, and its client
            // decides (an Idempotency-Key makes the retry safe). A timeout, a lock wait or a server out of
            // resources is no one submission's fault: trying 64 alone would only take 64 times as long.
            if batch.count > 1, Self.mayBeOneSubmissionsFault(error) {
                return batch.flatMap { commit([$0], app: app, connection: connection) }
            }
            for (submit, _) in batch { submit.context.submitOutcome = .failure(error) }
        }
        return batch.map { submit, _ in
            switch app.respond(to: submit.request, context: submit.context) {
            case .response(let response): response
            case .parked, .queued:
                ProblemBoundaryMiddleware.problem(for: Problem.internalError, context: submit.context)
                    .response(requestID: submit.context.requestID)
            }
        }
    }
}

func submitAdmittingThreadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let (batcher, app, config) = Unmanaged<BatcherStart>.fromOpaque(argument!).takeRetainedValue().parts
    batcher.runAdmitting(app: app, config: config)
    return nil
}

func submitCommittingThreadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let (batcher, app, config) = Unmanaged<BatcherStart>.fromOpaque(argument!).takeRetainedValue().parts
    batcher.runCommitting(app: app, config: config)
    return nil
}

/// What the batching thread starts with, passed through `pthread_create`'s one pointer.
final class BatcherStart {
    let parts: (SubmitBatcher, App, Configuration)

    init(_ batcher: SubmitBatcher, app: App, config: Configuration) {
        parts = (batcher, app, config)
    }
}

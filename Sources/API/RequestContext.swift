import Domain
import Postgres
import Store
import Web

/// Per-request state, confined to the thread serving the request (deliberately not `Sendable`).
///
/// Carries the thread's database connection, the request's facts for the audit row, the matched route and, once
/// authenticated, the caller; middleware and handlers read and fill it in order.
public final class RequestContext {
    /// nginx's request id (or a local one when absent).
    public let requestID: String
    /// The serving thread's connection; opened on first use, so routes that never touch the database never wait
    /// for it. A resumed long-poll gets the connection of the thread that resumes it.
    public internal(set) var connection: Connection
    public let config: Configuration
    /// Process-wide services built at start (token keys).
    let services: Services
    /// The serving thread's request log, or nil when `log-requests` is off; a resumed long-poll uses its resume
    /// thread's.
    var log: RequestLogBuffer?
    /// The serving thread's audit rows written after the response; a resumed long-poll uses its resume thread's.
    var audit: AuditBuffer
    /// When the request arrived.
    public let receivedAt: Timestamp
    let startedNanoseconds: UInt64
    let method: String
    let clientAddress: String
    /// The client's `User-Agent`, cut to `userAgentLimit` characters: it is stored in every audit row, and a
    /// client must not choose how large those rows are (nginx lets a header be up to 16 KiB).
    let userAgent: String?
    static let userAgentLimit = 256

    /// The matched route, set by routing; later steps read its access rule and call its handler.
    public var route: Route<RequestContext>?
    /// The matched route's pattern, for logs and audit rows (nil when no route matched).
    public var routePattern: String?
    /// The authenticated caller, once `AuthenticateMiddleware` has run (nil: no credentials).
    public var identity: Identity?
    /// The rate-limit decision for this request, sent back in the `RateLimit-*` headers.
    public var rateLimit: RateLimitDecision?
    /// What the audit row will say happened (`request`, `auth.failure`, `key.created`, …).
    public var auditEvent = "request"
    /// Reason, permission or object of the event; never a secret.
    public var auditDetail: [(String, JSON)] = []
    /// The route's first read, sent with authentication's round trip (`Route.prefetch`); the handler takes it.
    public var readAhead: ReadAhead?
    /// The key read made with other requests' (the submit batcher's), which authentication then uses.
    var preparedKeyRead: Authenticator.PreparedKeyRead?
    /// The key prefix presented, for the audit row even when authentication failed.
    var presentedKeyPrefix: String?
    /// The principal behind a presented credential that failed (a wrong secret for a known key), for the audit row.
    var failedPrincipal: (id: Int64, name: String)?
    /// The 401 a presented credential earned, answered once the client's address has been charged for it.
    var credentialFailure: Problem?
    /// True once the audit row was written inside the request's transaction.
    var isAudited = false
    /// The matched route's `{name}` values, kept for a resumed long-poll.
    var pathParameters: [String: String] = [:]
    /// True when a parked long-poll runs again: authentication and rate limiting already happened.
    public internal(set) var isResumed = false
    /// When a parked long-poll's wait ends (monotonic clock); set when it first parks, kept when it parks again.
    var waitDeadline: UInt64?
    /// Set by the hub (under its lock, before a resume thread takes the request) when the client of a parked
    /// long-poll closed its connection: nobody is left to answer.
    var clientDeparted = false
    /// What the submit batcher made of this request's submission, for the submit handler's second run.
    public internal(set) var submitOutcome: Result<JobStore.SubmitOutcome, any Error>?

    public convenience init(request: Request, connection: Connection, config: Configuration, services: Services) {
        self.init(
            request: request, connection: connection, config: config, services: services, log: nil, audit: AuditBuffer())
    }

    init(
        request: Request, connection: Connection, config: Configuration, services: Services, log: RequestLogBuffer?,
        audit: AuditBuffer
    ) {
        self.requestID = request.requestID
        self.connection = connection
        self.config = config
        self.services = services
        self.log = log
        self.audit = audit
        self.method = request.method
        self.clientAddress = request.clientAddress
        self.userAgent = request.headers["user-agent"].map { String($0.unicodeScalars.prefix(Self.userAgentLimit)) }
        self.receivedAt = SystemClock.now()
        self.startedNanoseconds = SystemClock.monotonicNanoseconds()
    }

    /// Microseconds since the request arrived.
    public var elapsedMicroseconds: Int64 {
        Int64((SystemClock.monotonicNanoseconds() - startedNanoseconds) / 1000)
    }
}

extension RequestContext {
    /// Answers a blocking query at once, or parks the request until `keys` change or the wait ends.
    ///
    /// - Parameters:
    ///   - query: the request's `index` and `wait`.
    ///   - keys: what to wait for.
    ///   - read: reads the current state and its index; runs once now, and again when the request wakes.
    public func blockingQuery(
        _ query: BlockingQuery, keys: [WaitKey], read: () throws -> (index: Int64, response: Response)
    ) throws -> Response {
        let observed = services.hub.beginObserving()
        let index: Int64
        var response: Response
        do {
            (index, response) = try read()
        } catch {
            services.hub.endObserving()
            throw error
        }
        if index > query.index || query.waitSeconds == 0 || (isResumed && isWaitOver) {
            services.hub.endObserving()
            response.headers.append(("X-Switchyard-Index", String(index)))
            return response
        }
        // A resumed request already had its place; a new one needs room.
        if !isResumed && !services.hub.hasRoom {
            services.hub.endObserving()
            throw Problem.unavailable("This responder holds as many waiting requests as it can; try again shortly.")
        }
        let deadline = waitDeadline ?? query.deadline()
        waitDeadline = deadline
        // The hub's `park` ends the observation.
        throw Park(keys: keys, deadline: deadline, observedSequence: observed)
    }

    /// Whether a woken request must answer now. One whose index has not moved (woken by a notification for a change
    /// the client has already seen, or with every waiter after the LISTEN session was lost) waits on until its own
    /// deadline, unless the process is stopping.
    private var isWaitOver: Bool {
        guard let waitDeadline else { return true }
        return SystemClock.monotonicNanoseconds() + Self.deadlineSlackNanoseconds >= waitDeadline
            || services.hub.isShuttingDown
    }

    /// A wait with less than this left is over: parking again for it would cost more than it saves.
    static let deadlineSlackNanoseconds: UInt64 = 5_000_000

    /// The read sent ahead for this request, once: a resumed long-poll reads afresh.
    public func takeReadAhead() -> ReadAhead? {
        defer { readAhead = nil }
        return readAhead
    }

    /// The caller, or a 401 when the route let an anonymous request through (routes that need one never do).
    public func requireIdentity() throws -> Identity {
        guard let identity else { throw Problem.unauthenticated() }
        return identity
    }

    /// Runs a state change in one transaction that also holds its audit row: the change and the row commit
    /// together (synchronously), or neither does. A thrown error rolls both back; the request's audit row is then
    /// written after the response, with the error's status.
    ///
    /// Job changes are announced (NOTIFY) after the commit, in a statement of its own that rides in the COMMIT's
    /// round trip: a NOTIFY inside the transaction would hold a database-wide lock through the synchronous flush
    /// (0006_deferred_job_notifications).
    public func transaction(_ body: () throws -> Response) throws -> Response {
        // What the body names (`key.created`…) holds only if it commits; a refused or failed change is audited as
        // what it was before.
        let eventBefore = auditEvent
        let detailBefore = auditDetail
        do {
            return try committing(body)
        } catch {
            auditEvent = eventBefore
            auditDetail = detailBefore
            throw error
        }
    }

    private func committing(_ body: () throws -> Response) throws -> Response {
        let response = try connection.transaction(
            synchronousCommit: true, followedBy: JobStore.announcement,
            followUpFailed: { error in
                // The change is committed; its long-polls answer when their wait ends instead of at once.
                Log.message(
                    .warn, "job changes not announced",
                    [("request_id", .string(self.requestID)), ("error", .string(String(reflecting: error)))])
            }
        ) {
            let response = try body()
            AuditStore(connection: connection).insertBeforeCommit([auditEntry(status: response.status)])
            return response
        }
        isAudited = true
        return response
    }

    /// The audit row for this request with its final status.
    func auditEntry(status: Int) -> AuditEntry {
        AuditEntry(
            at: receivedAt, requestID: requestID, event: auditEvent,
            principalID: identity?.principalID ?? failedPrincipal?.id,
            principalName: identity?.principalName ?? failedPrincipal?.name,
            credentialKind: identity?.credential.kind.rawValue,
            keyPrefix: identity?.credential.keyPrefix ?? presentedKeyPrefix, method: method, route: routePattern,
            status: status, latencyMicroseconds: elapsedMicroseconds, clientAddress: clientAddress,
            userAgent: userAgent, detail: .object(auditDetail))
    }
}

import Domain
import FastCGI
import Glibc
import OpenSSL
import Postgres
import Synchronization
import Web

/// One worker thread: accepts requests on the shared listener and serves them with its own database connection.
///
/// Everything a worker touches besides the shared, immutable `App` is created on its own thread and never leaves
/// it (fcgi2's `threaded.c` model); the connection opens on the first request that needs the database.
final class Worker {
    private let app: App
    private let listener: Listener
    private let config: Configuration
    private let lifecycle: Lifecycle

    init(app: App, listener: Listener, config: Configuration, lifecycle: Lifecycle) {
        self.app = app
        self.listener = listener
        self.config = config
        self.lifecycle = lifecycle
    }

    /// Serves requests until the listener stops, then closes the connection.
    func run() {
        let connection = Connection(conninfo: config.connectionString(
                applicationName: "switchyard-fcgi", asynchronousCommit: true, deferJobNotifications: true))
        let log = config.logRequests ? RequestLogBuffer() : nil
        let audit = AuditBuffer()
        var slot = FastCGIRequest()
        accepting: while true {
            switch listener.accept(into: slot) {
            case .request:
                lifecycle.requestStarted()
                if serve(slot, connection: connection, log: log, audit: audit) == .handedOff {
                    // The hub or the submit batcher owns that slot now; accept the next request into a fresh one.
                    slot = FastCGIRequest()
                }
                lifecycle.requestFinished()
            case .idle:
                audit.flush(connection: connection)
                log?.flush()
            case .exhausted:
                Self.warnOfExhaustion()
                usleep(50_000)
            case .stopped:
                break accepting
            }
        }
        audit.flushBeforeExit(connection: connection)
        log?.flush()
        connection.close()
    }

    private enum Served { case answered, handedOff }

    /// When the last warning of a descriptor shortage went out, process-wide: one line every 10 s is enough.
    private static let lastExhaustionWarning = Atomic<UInt64>(0)

    private static func warnOfExhaustion() {
        let now = SystemClock.monotonicNanoseconds()
        let last = lastExhaustionWarning.load(ordering: .relaxed)
        // Another thread may have stored a later time than this one read.
        guard now > last, now - last >= 10_000_000_000,
            lastExhaustionWarning.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        Log.message(.error, "no file descriptor left for a new connection: requests wait in the listen queue")
    }

    private func serve(
        _ slot: FastCGIRequest, connection: Connection, log: RequestLogBuffer?, audit: AuditBuffer
    ) -> Served {
        var request: Request
        switch slot.readBody(limit: config.maxBodyBytes) {
        case .complete(let body):
            request = Request(cgiParameters: slot.parameters, body: body)
        case .tooLarge:
            request = Request(cgiParameters: slot.parameters, body: [])
            request.bodyExceedsLimit = true
        }
        if request.requestID.isEmpty {
            request.requestID = Self.localRequestID()
        }
        let context = RequestContext(
            request: request, connection: connection, config: config, services: app.services, log: log, audit: audit)
        if app.services.submits.takesOnArrival(request, router: app.router) {
            app.services.submits.enqueue(BatchedSubmit(slot: slot, request: request, context: context, reason: .arrived))
            return .handedOff
        }
        let response: Response
        switch app.respond(to: request, context: context) {
        case .response(let answer):
            response = answer
        case .parked(let park):
            app.services.hub.park(ParkedRequest(slot: slot, request: request, context: context, reason: park))
            return .handedOff
        case .queued(let queued):
            app.services.submits.enqueue(
                BatchedSubmit(slot: slot, request: request, context: context, reason: .validated(queued.submission)))
            return .handedOff
        }
        app.deliver(response, on: slot, context: context)
        return .answered
    }

    /// A request id for requests that did not come through nginx (its `$request_id` format: 32 hex digits).
    static func localRequestID() -> String {
        Hex.encode((try? SecureRandom.bytes(count: 16)) ?? Array(repeating: 0, count: 16))
    }
}

/// Entry point of a worker thread; a named function outside main.swift, so it does not inherit the main actor
/// (a closure literal there would trap at once on the new thread under Swift 6).
func workerThreadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let worker = Unmanaged<Worker>.fromOpaque(argument!).takeRetainedValue()
    worker.run()
    return nil
}

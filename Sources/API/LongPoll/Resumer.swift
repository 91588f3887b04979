import Domain
import FastCGI
import Web
import Postgres

/// A thread that answers parked requests once they are woken or their wait ends, with its own connection.
///
/// The handler runs again from the stored context (identity, route, rate-limit headers), skipping
/// authentication and counting. It answers what it finds, or parks again until its first deadline when it was woken
/// for nothing new.
final class Resumer {
    private let app: App
    private let config: Configuration
    private let hub: WaitHub

    init(app: App, config: Configuration, hub: WaitHub) {
        self.app = app
        self.config = config
        self.hub = hub
    }

    func run() {
        let connection = Connection(
            conninfo: config.connectionString(
                applicationName: "switchyard-fcgi", asynchronousCommit: true, deferJobNotifications: true))
        // Every resumed request reads the database, so the session is opened now rather than by the first one,
        // which would otherwise wait about 5 ms for it. If the database is down, the first use opens it.
        try? connection.open()
        let log = config.logRequests ? RequestLogBuffer() : nil
        let audit = AuditBuffer()
        while let parked = hub.nextReady() {
            let context = parked.context
            context.connection = connection
            context.log = log
            context.audit = audit
            context.isResumed = true
            if context.clientDeparted {
                // 499, as nginx logs a request whose client closed the connection.
                context.auditDetail.append(("delivery", .string("client_gone")))
                parked.slot.abort()
                let gone = Response(status: 499)
                log?.appendRequest(
                    requestID: context.requestID, method: parked.request.method, route: context.routePattern,
                    status: gone.status, durationMicroseconds: context.elapsedMicroseconds)
                app.complete(gone, context: context)
                audit.flush(connection: connection)
                log?.flush()
                continue
            }
            let response: Response
            switch app.respond(to: parked.request, context: context) {
            case .response(let answer): response = answer
            case .parked(let park):
                hub.park(ParkedRequest(slot: parked.slot, request: parked.request, context: context, reason: park))
                continue
            case .queued: response = ProblemBoundaryMiddleware.problem(for: Problem.internalError, context: context)
                .response(requestID: context.requestID)
            }
            app.deliver(response, on: parked.slot, context: context)
            // Resume threads have no idle moment to wait for: a woken request's row is written at once.
            audit.flush(connection: connection)
            log?.flush()
        }
        audit.flushBeforeExit(connection: connection)
        connection.close()
    }
}

func resumerThreadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<Resumer>.fromOpaque(argument!).takeRetainedValue().run()
    return nil
}

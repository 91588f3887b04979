import Domain
import Postgres
import Web

/// Per-request state, confined to the thread serving the request (deliberately not `Sendable`).
///
/// Carries the thread's database connection, the request id, the matched route and, once authenticated, the
/// principal; middleware and handlers read and fill it in order.
public final class RequestContext {
    /// nginx's request id (or a local one when absent).
    public let requestID: String
    /// The serving thread's connection; opened on first use, so routes that never touch the database never wait
    /// for it.
    public let connection: Connection
    public let config: Configuration
    /// When the request arrived.
    public let receivedAt: Timestamp
    let startedNanoseconds: UInt64
    /// The matched route, set by routing; later steps read its access rule and call its handler.
    public var route: Route<RequestContext>?
    /// The matched route's pattern, for logs and audit rows (nil when no route matched).
    public var routePattern: String?

    /// The serving thread's request log, or nil when `log-requests` is off.
    let log: RequestLogBuffer?

    public convenience init(requestID: String, connection: Connection, config: Configuration) {
        self.init(requestID: requestID, connection: connection, config: config, log: nil)
    }

    init(requestID: String, connection: Connection, config: Configuration, log: RequestLogBuffer?) {
        self.requestID = requestID
        self.connection = connection
        self.config = config
        self.log = log
        self.receivedAt = SystemClock.now()
        self.startedNanoseconds = SystemClock.monotonicNanoseconds()
    }

    /// Microseconds since the request arrived.
    public var elapsedMicroseconds: Int64 {
        Int64((SystemClock.monotonicNanoseconds() - startedNanoseconds) / 1000)
    }
}

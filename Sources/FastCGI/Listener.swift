import CFastCGI
import Glibc
import Synchronization

/// The process's FastCGI listening socket, shared by the worker threads.
///
/// Every idle worker waits in `accept()` on the same socket at once; Linux hands each connection to one of them,
/// so no accept mutex is needed (fcgi2's `threaded.c` serializes only for platforms that require it, and the
/// lock handoff cost a context switch per request here). The socket gets a receive timeout, which makes a
/// waiting `accept()` return every `pollInterval`, so a stopped listener lets its threads go without signals.
public final class Listener: Sendable {
    /// How often a waiting thread looks at the stop flag (and the worker flushes its log buffer).
    public static let pollIntervalMilliseconds = 250
    private let stopped = Atomic<Bool>(false)
    /// Whether the socket is TCP (spawn-fcgi `-p`) rather than a unix socket: its connections inherit the timeout.
    private let isTCP: Bool

    /// Initializes libfcgi; throws when standard input is not a FastCGI socket (the program was started by hand).
    public init() throws(FastCGIError) {
        FCGX_Init()
        if FCGX_IsCGI() != 0 { throw FastCGIError.notFastCGI }
        var timeout = timeval(tv_sec: 0, tv_usec: Self.pollIntervalMilliseconds * 1000)
        // The listening socket is spawn-fcgi's fd 0.
        setsockopt(0, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(0, $0, &length) }
        }
        isTCP = named == 0 && Int32(address.ss_family) != AF_UNIX
    }

    /// The outcome of waiting for a request.
    public enum Accepted {
        case request
        /// Nothing arrived within the poll interval; call again (after housekeeping).
        case idle
        /// No descriptor was left for a new connection; the caller pauses briefly, since the next `accept` would
        /// fail at once as well.
        case exhausted
        case stopped
    }

    /// Waits up to the poll interval for the next request in `slot`.
    public func accept(into slot: FastCGIRequest) -> Accepted {
        if isStopped { return .stopped }
        switch slot.accept(replacingInheritedTimeout: isTCP) {
        case .accepted: return .request
        case .exhausted: return .exhausted
        case .nothing: return isStopped ? .stopped : .idle
        }
    }

    /// Makes every later `accept` return `.stopped`; waiting threads notice within the poll interval. Requests
    /// already accepted are unaffected.
    public func stop() {
        stopped.store(true, ordering: .releasing)
    }

    /// True once `stop()` was called.
    public var isStopped: Bool { stopped.load(ordering: .acquiring) }
}

import CFastCGI
import Glibc
import Synchronization

/// The process's FastCGI listening socket, shared by the worker threads, after fcgi2's `threaded.c`.
///
/// Accepts are serialized by a mutex, so one thread waits in `accept()` while the others wait for the mutex.
/// `stop()` makes every later `accept` return nil; the thread waiting in `accept()` leaves it when it receives a
/// signal (the server sends one), because slots fail on EINTR instead of retrying.
public final class Listener: @unchecked Sendable {
    private let acceptLock = Mutex(())
    private let stopped = Atomic<Bool>(false)
    /// The thread currently inside `accept()` (0: none), so `interruptAccept` knows whom to signal.
    private let acceptingThread = Atomic<UInt>(0)

    /// Initializes libfcgi; throws when standard input is not a FastCGI socket (the program was started by hand).
    public init() throws(FastCGIError) {
        FCGX_Init()
        if FCGX_IsCGI() != 0 { throw FastCGIError.notFastCGI }
    }

    /// Waits for the next request in `slot`. Returns false once the listener is stopped.
    public func accept(into slot: FastCGIRequest) -> Bool {
        acceptLock.withLock { _ in
            while !isStopped {
                acceptingThread.store(UInt(pthread_self()), ordering: .releasing)
                let accepted = slot.accept()
                acceptingThread.store(0, ordering: .releasing)
                if accepted { return true }
                // A failed accept that was not a stop (EMFILE, ECONNABORTED): do not spin on it.
                if !isStopped { usleep(10_000) }
            }
            return false
        }
    }

    /// Makes every later `accept` return false. Requests already accepted are unaffected.
    public func stop() {
        stopped.store(true, ordering: .releasing)
    }

    /// Sends `signal` to the thread waiting in `accept()`, if any, so that a stopped listener lets it go.
    ///
    /// The signal may arrive just before that thread enters `accept()`, so callers repeat this until the workers
    /// have left; the signal needs a handler installed without `SA_RESTART` for `accept()` to fail with EINTR.
    public func interruptAccept(with signal: Int32) {
        let thread = acceptingThread.load(ordering: .acquiring)
        if thread != 0 { pthread_kill(pthread_t(thread), signal) }
    }

    /// True once `stop()` was called.
    public var isStopped: Bool { stopped.load(ordering: .acquiring) }
}

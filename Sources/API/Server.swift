import Domain
import FastCGI
import Glibc
import Synchronization
import Web

/// The responder process: worker threads on the FastCGI socket, and a main thread that waits for signals and
/// for the configured request or idle limit, then stops accepting, lets the requests in flight finish and exits.
///
/// spawn-fcgi binds the socket (fd 0) and multiwatch restarts the process when it exits, so leaving after a
/// bounded number of requests costs no request: the other processes keep accepting on the same socket meanwhile.
public enum Server {
    /// Signals that ask for a graceful stop: spawn-fcgi/multiwatch and systemd use TERM (multiwatch `-s`), a
    /// terminal INT; the process also raises TERM itself when it reaches `max-requests`.
    private static let stopSignals = [SIGTERM, SIGINT, SIGHUP, SIGUSR1]

    /// Runs until stopped and returns the process exit status.
    public static func run(config: Configuration) -> Int32 {
        let listener: Listener
        do {
            listener = try Listener()
        } catch {
            Log.message(.error, String(describing: error))
            return 64
        }
        signal(SIGPIPE, SIG_IGN)
        raiseOpenFileLimit()
        var stopSet = sigset_t()
        sigemptyset(&stopSet)
        for signal in stopSignals { sigaddset(&stopSet, signal) }
        // Worker threads inherit this mask, so only the main thread's sigtimedwait sees the stop signals.
        pthread_sigmask(SIG_BLOCK, &stopSet, nil)

        let app: App
        do {
            app = try App(config: config)
        } catch {
            Log.message(.error, error.description)
            return 78
        }
        let lifecycle = Lifecycle(maxRequests: config.maxRequests, listener: listener)
        var threads: [pthread_t] = []
        for _ in 0..<config.workerThreads {
            let worker = Worker(app: app, listener: listener, config: config, lifecycle: lifecycle)
            var thread = pthread_t()
            let created = pthread_create(&thread, nil, workerThreadEntry, Unmanaged.passRetained(worker).toOpaque())
            guard created == 0 else {
                Log.message(.error, "cannot start a worker thread (error \(created))")
                return 71
            }
            threads.append(thread)
        }
        var helpers: [pthread_t] = []
        let hub = app.services.hub
        let waitListener = WaitListener(
            hub: hub, conninfo: config.connectionString(applicationName: "switchyard-fcgi-listen"))
        var thread = pthread_t()
        guard pthread_create(&thread, nil, waitListenerThreadEntry, Unmanaged.passRetained(waitListener).toOpaque()) == 0
        else {
            Log.message(.error, "cannot start the LISTEN thread")
            return 71
        }
        helpers.append(thread)
        for _ in 0..<config.resumeThreads {
            let resumer = Resumer(app: app, config: config, hub: hub)
            guard pthread_create(&thread, nil, resumerThreadEntry, Unmanaged.passRetained(resumer).toOpaque()) == 0 else {
                Log.message(.error, "cannot start a resume thread")
                return 71
            }
            helpers.append(thread)
        }
        let batcherEntries: [@convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?] = [
            submitAdmittingThreadEntry, submitCommittingThreadEntry,
        ]
        for entry in batcherEntries {
            let start = BatcherStart(app.services.submits, app: app, config: config)
            guard pthread_create(&thread, nil, entry, Unmanaged.passRetained(start).toOpaque()) == 0 else {
                Log.message(.error, "cannot start a submit batching thread")
                return 71
            }
            helpers.append(thread)
        }
        Log.message(.info, "responder started", [("pid", .int(Int64(getpid()))), ("threads", .int(Int64(threads.count)))])

        waitForStop(stopSet: stopSet, config: config, lifecycle: lifecycle, listener: listener, hub: hub)
        listener.stop()
        for thread in threads { pthread_join(thread, nil) }
        // Parked long-polls are answered now with what they would see; their clients poll again. Queued submits
        // are committed and answered.
        hub.shutDown()
        app.services.submits.shutDown()
        for thread in helpers { pthread_join(thread, nil) }
        Log.message(.info, "responder stopped", [("pid", .int(Int64(getpid()))), ("served", .int(Int64(lifecycle.served)))])
        return 0
    }

    private static func waitForStop(
        stopSet: sigset_t, config: Configuration, lifecycle: Lifecycle, listener: Listener, hub: WaitHub
    ) {
        var signals = stopSet
        var tick = timespec(tv_sec: 0, tv_nsec: 250_000_000)
        let idleLimit = UInt64(config.idleExitSeconds) * 1_000_000_000
        while !listener.isStopped {
            if sigtimedwait(&signals, nil, &tick) > 0 { return }
            // Parked long-polls are not in flight, but a process that holds them is not idle.
            if idleLimit > 0, lifecycle.inFlight == 0, hub.parkedCount == 0,
                SystemClock.monotonicNanoseconds() - lifecycle.lastActivity > idleLimit
            {
                return
            }
        }
    }

    /// Parked long-polls and nginx connections each hold a descriptor; the soft limit (often 1024) is too low.
    private static func raiseOpenFileLimit() {
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
    }
}

/// Counters the worker threads share with the main thread: requests served and in flight, and last activity.
/// Reaching `max-requests` stops the listener and asks the main thread to finish.
final class Lifecycle: Sendable {
    private let servedCount = Atomic<Int>(0)
    private let inFlightCount = Atomic<Int>(0)
    private let lastActivityNanoseconds = Atomic<UInt64>(SystemClock.monotonicNanoseconds())
    private let maxRequests: Int
    private let listener: Listener

    init(maxRequests: Int, listener: Listener) {
        self.maxRequests = maxRequests
        self.listener = listener
    }

    var served: Int { servedCount.load(ordering: .relaxed) }
    var inFlight: Int { inFlightCount.load(ordering: .relaxed) }
    var lastActivity: UInt64 { lastActivityNanoseconds.load(ordering: .relaxed) }

    func requestStarted() {
        inFlightCount.add(1, ordering: .relaxed)
    }

    func requestFinished() {
        inFlightCount.subtract(1, ordering: .relaxed)
        lastActivityNanoseconds.store(SystemClock.monotonicNanoseconds(), ordering: .relaxed)
        let served = servedCount.add(1, ordering: .relaxed).newValue
        if maxRequests > 0, served >= maxRequests, !listener.isStopped {
            listener.stop()
            kill(getpid(), SIGTERM)
        }
    }
}

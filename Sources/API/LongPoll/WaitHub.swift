import Domain
import FastCGI
import Glibc
import Postgres

/// The process's parked long-polls: who waits for what, one LISTEN connection that wakes them, and the queue the
/// resume threads answer from.
///
/// A change commits → PostgreSQL sends `NOTIFY job_changed` with `job:owner` pairs → the listener thread marks
/// those keys and moves their waiters to the resume queue. A request that read the database before a change but
/// parks after its notification arrived is caught by the per-key notification counter (`observedSequence`), so no
/// wake-up is ever lost; a lost LISTEN session wakes everyone, since notifications may have been missed. While no
/// request waits or is between its read and parking, a notification concerns nobody here and is not even parsed:
/// the scheduler's rounds announce thousands of jobs a second to every responder.
final class WaitHub: @unchecked Sendable {
    private let lock = ConditionLock()
    private var state = State()
    /// Parked requests at most. Each holds its FastCGI connection's descriptor (and nginx two of its own), so past
    /// this a new blocking query is refused with 503 rather than left to run the process out of descriptors.
    let capacity: Int

    /// - Parameter capacity: nil takes the process's descriptor limit less 256 (for the database sessions,
    ///   requests being served and files), and at least 64.
    init(capacity: Int? = nil) {
        self.capacity = capacity ?? Self.capacityFromDescriptorLimit()
    }

    private static func capacityFromDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 64 }
        // An unlimited soft limit (RLIM_INFINITY) clamps to a million.
        return max(64, min(Int(clamping: limit.rlim_cur), 1 << 20) - 256)
    }

    /// Whether a new request may park: fewer than `capacity` are parked or woken and waiting for a resume thread
    /// (a woken request still holds its connection; after a lost LISTEN session every one is woken at once).
    var hasRoom: Bool { lock.withLock { state.waiters.count + state.ready.count < capacity } }

    private struct State {
        /// Counts notifications received; `lastNotified` remembers the count at each key's latest one.
        var sequence: UInt64 = 0
        var lastNotified: [WaitKey: UInt64] = [:]
        /// Everything observed before this count may have missed a notification (a reconnect, a pruned map).
        var uncertainBefore: UInt64 = 0
        var waiters: [UInt64: ParkedRequest] = [:]
        /// Blocking queries between `beginObserving()` and parking (or answering).
        var observers = 0
        var keysOfWaiter: [UInt64: [WaitKey]] = [:]
        var waitersOfKey: [WaitKey: Set<UInt64>] = [:]
        var nextWaiterID: UInt64 = 0
        var ready: [ParkedRequest] = []
        var isShuttingDown = false
    }

    /// The map of recent notifications is cleared past this many keys (waiters then simply re-check).
    private static let rememberedKeys = 200_000

    /// Called by a blocking query before it looks at the database: returns the notification counter to park with.
    /// The observation ends when the request parks, or with `endObserving()` when it answers at once.
    func beginObserving() -> UInt64 {
        lock.withLock {
            state.observers += 1
            return state.sequence
        }
    }

    /// Ends an observation that did not park.
    func endObserving() {
        lock.withLock { state.observers -= 1 }
    }

    /// Number of parked requests (for the lifecycle's idle check and tests).
    var parkedCount: Int { lock.withLock { state.waiters.count } }

    /// Number of blocking queries between their read and parking (for tests).
    var observerCount: Int { lock.withLock { state.observers } }

    /// Parks a request, or queues it for an immediate answer when one of its keys changed since it looked.
    func park(_ parked: ParkedRequest) {
        lock.withLock {
            state.observers -= 1
            let park = parked.park
            let changed = park.observedSequence < state.uncertainBefore
                || park.keys.contains { (state.lastNotified[$0] ?? 0) > park.observedSequence }
            if changed || state.isShuttingDown {
                state.ready.append(parked)
                lock.signal()
                return
            }
            state.nextWaiterID += 1
            let id = state.nextWaiterID
            state.waiters[id] = parked
            state.keysOfWaiter[id] = park.keys
            for key in park.keys { state.waitersOfKey[key, default: []].insert(id) }
        }
    }

    /// Takes a `job_changed` payload: parsed only while someone waits or observes. A blocking query that begins
    /// after this check reads the database after the change committed (NOTIFY is delivered after COMMIT), so it
    /// misses nothing.
    func notify(payload: String) {
        guard lock.withLock({ state.observers > 0 || !state.waiters.isEmpty }) else { return }
        notify(Self.keys(fromPayload: payload))
    }

    /// Marks keys as changed and queues their waiters.
    func notify(_ keys: Set<WaitKey>) {
        lock.withLock {
            state.sequence += 1
            if state.lastNotified.count > Self.rememberedKeys {
                state.lastNotified.removeAll(keepingCapacity: true)
                state.uncertainBefore = state.sequence
            }
            var woken: Set<UInt64> = []
            for key in keys {
                state.lastNotified[key] = state.sequence
                if let ids = state.waitersOfKey[key] { woken.formUnion(ids) }
            }
            for id in woken { release(id) }
            if !woken.isEmpty { lock.broadcast() }
        }
    }

    /// Queues every waiter and treats everything observed so far as possibly stale (the LISTEN session was lost).
    func wakeAll() {
        lock.withLock {
            state.sequence += 1
            state.uncertainBefore = state.sequence
            for id in Array(state.waiters.keys) { release(id) }
            lock.broadcast()
        }
    }

    /// Queues waiters whose deadline passed; returns nanoseconds until the next deadline (nil: nobody waits).
    func expire(now: UInt64) -> UInt64? {
        lock.withLock {
            var next: UInt64?
            var expired: [UInt64] = []
            for (id, parked) in state.waiters {
                if parked.park.deadline <= now {
                    expired.append(id)
                } else {
                    next = min(next ?? .max, parked.park.deadline - now)
                }
            }
            for id in expired { release(id) }
            if !expired.isEmpty { lock.broadcast() }
            return next
        }
    }

    /// Lets go of parked requests whose client left: nginx closes the FastCGI connection of a request whose client
    /// closed its own (it sends no FCGI_ABORT_REQUEST when it does not keep connections). Called by the listener
    /// thread about once a second, so such a request's descriptor and memory go long before its deadline, and its
    /// audit row says the client left. A request still parked after the poll has not been answered, so its
    /// descriptor was not closed and reused meanwhile.
    func releaseDeparted() {
        let watched = lock.withLock { state.waiters.map { (id: $0.key, descriptor: $0.value.slot.connectionDescriptor) } }
        guard !watched.isEmpty else { return }
        let hangUp = Int16(Self.pollReadHangUp | POLLHUP | POLLERR | POLLNVAL)
        var descriptors = watched.map { pollfd(fd: $0.descriptor, events: Int16(Self.pollReadHangUp), revents: 0) }
        guard poll(&descriptors, nfds_t(descriptors.count), 0) > 0 else { return }
        let departed = zip(watched, descriptors).filter { $0.1.revents & hangUp != 0 }.map(\.0.id)
        guard !departed.isEmpty else { return }
        lock.withLock {
            for id in departed {
                guard let parked = state.waiters[id] else { continue }
                parked.context.clientDeparted = true
                release(id)
            }
            lock.broadcast()
        }
    }

    /// `POLLRDHUP` (the peer closed its end), which Glibc's module map does not export.
    private static let pollReadHangUp: Int32 = 0x2000

    /// The next request to answer, waiting for one; nil once shutting down and nothing is left.
    func nextReady() -> ParkedRequest? {
        lock.withLock {
            while state.ready.isEmpty {
                if state.isShuttingDown && state.waiters.isEmpty { return nil }
                lock.wait()
            }
            return state.ready.removeFirst()
        }
    }

    /// Answers every parked request now (clients poll again) and lets the resume threads finish.
    func shutDown() {
        lock.withLock {
            state.isShuttingDown = true
            for id in Array(state.waiters.keys) { release(id) }
            lock.broadcast()
        }
    }

    /// True once `shutDown()` was called.
    var isShuttingDown: Bool { lock.withLock { state.isShuttingDown } }

    /// Moves a waiter to the ready queue (lock held).
    private func release(_ id: UInt64) {
        guard let parked = state.waiters.removeValue(forKey: id) else { return }
        for key in state.keysOfWaiter.removeValue(forKey: id) ?? [] {
            state.waitersOfKey[key]?.remove(id)
            if state.waitersOfKey[key]?.isEmpty == true { state.waitersOfKey[key] = nil }
        }
        state.ready.append(parked)
    }

    /// Parses a `job_changed` payload (`job:owner` pairs, comma-separated) into the keys it touches.
    static func keys(fromPayload payload: String) -> Set<WaitKey> {
        var keys: Set<WaitKey> = [.all]
        for pair in payload.split(separator: ",") {
            let parts = pair.split(separator: ":")
            guard parts.count == 2, let job = Int64(parts[0]), let owner = Int64(parts[1]) else { continue }
            keys.insert(.job(job))
            keys.insert(.owner(owner))
        }
        return keys
    }
}

/// The thread that holds the process's LISTEN connection and the waiters' deadlines.
final class WaitListener: @unchecked Sendable {
    let hub: WaitHub
    private let conninfo: String

    init(hub: WaitHub, conninfo: String) {
        self.hub = hub
        self.conninfo = conninfo
    }

    /// Listens until the hub shuts down; reconnects (and wakes everyone) after losing the session.
    func run() {
        let connection = Connection(conninfo: conninfo)
        var isListening = false
        var lastDepartureCheck: UInt64 = 0
        while !hub.isShuttingDown {
            let now = SystemClock.monotonicNanoseconds()
            if now - lastDepartureCheck >= 1_000_000_000 {
                hub.releaseDeparted()
                lastDepartureCheck = now
            }
            let untilNext = hub.expire(now: now) ?? 250_000_000
            let timeout = Int32(min(untilNext / 1_000_000 + 1, 250))
            do {
                if !isListening {
                    try connection.listen("job_changed")
                    isListening = true
                    hub.wakeAll()
                }
                for notification in try connection.waitForNotifications(timeoutMilliseconds: timeout) {
                    hub.notify(payload: notification.payload)
                }
            } catch {
                isListening = false
                usleep(250_000)
            }
        }
        connection.close()
    }
}

func waitListenerThreadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<WaitListener>.fromOpaque(argument!).takeRetainedValue().run()
    return nil
}

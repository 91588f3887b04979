import Domain
import FastCGI
import Web

/// What a parked request waits for: one job, one owner's jobs, or every job (callers who see every owner).
public enum WaitKey: Hashable, Sendable {
    case job(Int64)
    case owner(Int64)
    case all
}

/// Thrown by a handler that leaves its request to another thread to answer: not a failure, so every middleware
/// lets it through untouched.
public protocol Handoff: Error {}

/// Thrown by a handler whose blocking query has nothing new yet: the request is parked until one of `keys`
/// changes or the deadline passes, then its handler runs again and answers whatever it finds.
///
/// Every middleware lets it through untouched; the worker hands the request to the process's `WaitHub` and goes
/// back to accepting, so a parked request costs no thread and no database connection.
public struct Park: Handoff {
    public let keys: [WaitKey]
    /// On the monotonic clock (`SystemClock.monotonicNanoseconds`).
    public let deadline: UInt64
    /// The hub's notification counter read before the handler looked at the database: a change that arrived after
    /// it means the request must not sleep.
    public let observedSequence: UInt64
}

/// The outcome of running the pipeline on a request.
public enum Outcome {
    case response(Response)
    case parked(Park)
    /// A validated submit for the process's `SubmitBatcher`.
    case queued(QueuedSubmit)
}

/// A request on its way between threads: the FastCGI slot, the request, its context and what it left the worker
/// for (a `Park`, a submission).
///
/// Ownership moves with it: the worker that hands it off never touches it again, and exactly one other thread (a
/// resume thread, the submit batcher) takes it, so the non-Sendable parts are only ever used by one thread at a time.
final class HandedOffRequest<Reason>: @unchecked Sendable {
    let slot: FastCGIRequest
    let request: Request
    let context: RequestContext
    let reason: Reason

    init(slot: FastCGIRequest, request: Request, context: RequestContext, reason: Reason) {
        self.slot = slot
        self.request = request
        self.context = context
        self.reason = reason
    }
}

/// A parked long-poll, waiting in the `WaitHub`.
typealias ParkedRequest = HandedOffRequest<Park>

extension HandedOffRequest where Reason == Park {
    var park: Park { reason }
}

/// Reads the `index` and `wait` parameters of a blocking query (Consul/Nomad style): `index` 0 or absent never
/// blocks; `wait` is a Go duration, capped at 60 s, with up to 1/16 of random extra so that clients woken together
/// do not come back together. Malformed values are 400.
public struct BlockingQuery {
    public let index: Int64
    /// Seconds to wait, 0 when the request must not block.
    public let waitSeconds: Double

    public init(_ query: QueryParameters) throws {
        let index = try Self.index(query, name: "index")
        let wait = try Self.wait(query)
        self.init(index: index, waitSeconds: index == 0 ? 0 : wait)
    }

    /// A query that waits `waitSeconds` while nothing is above `index` (events wait from `after=0` too).
    public init(index: Int64, waitSeconds: Double) {
        self.index = index
        self.waitSeconds = waitSeconds
    }

    /// A non-negative integer parameter (0 when absent); 400 otherwise.
    public static func index(_ query: QueryParameters, name: String) throws -> Int64 {
        guard let text = query[name] else { return 0 }
        guard let value = Int64(text), value >= 0 else {
            throw Problem.invalidField(name, "must be a whole number of 0 or more")
        }
        return value
    }

    /// The `wait` parameter in seconds, capped at 60 (0 when absent); 400 for a malformed duration.
    public static func wait(_ query: QueryParameters) throws -> Double {
        guard let text = query["wait"] else { return 0 }
        guard let value = WaitDuration.parse(text) else {
            throw Problem.invalidField("wait", "must be a duration such as 10s, 2m or 1m30s")
        }
        return min(value, WaitDuration.maximumSeconds)
    }

    /// The moment to give up waiting, with the jitter added.
    public func deadline() -> UInt64 {
        let jitter = Double.random(in: 0...(waitSeconds / 16))
        return SystemClock.monotonicNanoseconds() + UInt64((waitSeconds + jitter) * 1e9)
    }
}

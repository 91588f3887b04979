import Domain
import Postgres
import Store
import Web

/// A worker thread's audit rows for reads and refused requests, written to PostgreSQL in batches.
///
/// One INSERT per read request was a third of the database's work on the hottest routes, so rows written after
/// the response collect here and go in one statement once 64 have gathered, once the oldest is 100 ms old (at the
/// next request), when the worker is idle (at most a quarter second after the last request) and when it stops.
/// State changes never come here: their rows commit inside their own transaction. A responder killed with SIGKILL
/// loses at most one unwritten batch per thread, like a database crash loses the last asynchronously committed
/// rows; both are documented in the README.
final class AuditBuffer {
    private var entries: [AuditEntry] = []
    private var oldestNanoseconds: UInt64 = 0
    private static let batchSize = 64
    private static let maximumAgeNanoseconds: UInt64 = 100_000_000

    init() {
        entries.reserveCapacity(Self.batchSize)
    }

    /// Adds a row; writes the batch on `connection` when it is full or old enough.
    func append(_ entry: AuditEntry, connection: Connection) {
        let now = SystemClock.monotonicNanoseconds()
        if entries.isEmpty { oldestNanoseconds = now }
        entries.append(entry)
        if entries.count >= Self.batchSize || now - oldestNanoseconds >= Self.maximumAgeNanoseconds {
            flush(connection: connection)
        }
    }

    /// Writes whatever is buffered; on failure the rows are reported on standard error (by request id) and dropped,
    /// so a database outage cannot grow the buffer without bound.
    func flush(connection: Connection) {
        guard !entries.isEmpty else { return }
        do {
            try AuditStore(connection: connection).insert(entries)
        } catch {
            Log.message(
                .error, "audit rows not written",
                [("request_ids", .array(entries.map { .string($0.requestID) })),
                 ("error", .string(String(reflecting: error)))])
        }
        entries.removeAll(keepingCapacity: true)
    }
}

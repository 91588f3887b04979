import Domain
import Glibc
import Postgres
import Store
import Web

/// A worker thread's audit rows for reads and refused requests, written to PostgreSQL in batches.
///
/// One INSERT per read request was a third of the database's work on the hottest routes, so rows written after
/// the response collect here and go in one statement once 64 have gathered, once the oldest is 100 ms old (at the
/// next request), when the worker is idle (at most a quarter second after the last request) and when it stops.
/// State changes never come here: their rows commit inside their own transaction.
///
/// Rows are not given up lightly. While the database is unreachable they are kept and tried again each second, up
/// to `maximumKept`; a row the database refuses does not take the rest of its batch with it. A row that cannot be
/// written after all (past the bound, refused, or at a stop that outlasts `exitPatienceNanoseconds`) is written
/// whole to standard error as an `audit row not written` line, from which it can be loaded by hand. A responder
/// killed with SIGKILL loses what it holds, like a database crash loses the last asynchronously committed rows;
/// both are in the README.
final class AuditBuffer {
    private var entries: [AuditEntry] = []
    private var oldestNanoseconds: UInt64 = 0
    private var nextAttemptNanoseconds: UInt64 = 0
    private static let batchSize = 64
    private static let maximumAgeNanoseconds: UInt64 = 100_000_000
    /// Rows kept through an outage, at most: about 5 MB per thread.
    static let maximumKept = 10_000
    private let retryIntervalNanoseconds: UInt64
    private let exitPatienceNanoseconds: UInt64

    init(retryIntervalNanoseconds: UInt64 = 1_000_000_000, exitPatienceNanoseconds: UInt64 = 5_000_000_000) {
        self.retryIntervalNanoseconds = retryIntervalNanoseconds
        self.exitPatienceNanoseconds = exitPatienceNanoseconds
        entries.reserveCapacity(Self.batchSize)
    }

    /// Rows waiting to be written.
    var count: Int { entries.count }

    /// Adds a row; writes the batch on `connection` when it is full or old enough.
    func append(_ entry: AuditEntry, connection: Connection) {
        let now = SystemClock.monotonicNanoseconds()
        if entries.isEmpty { oldestNanoseconds = now }
        entries.append(entry)
        if entries.count > Self.maximumKept {
            report(entries.prefix(1), reason: "more rows than the buffer keeps through a database outage")
            entries.removeFirst()
        }
        if entries.count >= Self.batchSize || now - oldestNanoseconds >= Self.maximumAgeNanoseconds {
            flush(connection: connection)
        }
    }

    /// Writes whatever is buffered, unless the last attempt found the database unreachable less than a second ago.
    /// Returns whether the buffer is empty afterwards.
    @discardableResult
    func flush(connection: Connection) -> Bool {
        guard !entries.isEmpty else { return true }
        let now = SystemClock.monotonicNanoseconds()
        guard now >= nextAttemptNanoseconds else { return false }
        do {
            try AuditStore(connection: connection).insert(entries)
            entries.removeAll(keepingCapacity: true)
        } catch let error as DatabaseError where Self.mayBeOneRowsFault(error) {
            writeOneByOne(connection: connection, batchError: error, now: now)
        } catch {
            keepForLater(error, now: now)
        }
        return entries.isEmpty
    }

    /// The last flush of a stopping thread: tries for up to `exitPatienceNanoseconds` while the database is
    /// unreachable, then reports what is left. Returns how many rows could not be written.
    @discardableResult
    func flushBeforeExit(connection: Connection) -> Int {
        let deadline = SystemClock.monotonicNanoseconds() + exitPatienceNanoseconds
        while !flush(connection: connection), SystemClock.monotonicNanoseconds() < deadline {
            usleep(100_000)
        }
        let unwritten = entries.count
        report(entries, reason: "the responder stopped while the database was unreachable")
        entries.removeAll()
        return unwritten
    }

    /// A rule of the data (a value out of range, a constraint) can be one row's fault; a timeout, a lock wait, a
    /// full disk or a lost connection is nobody's, and the rows wait for the database instead.
    private static func mayBeOneRowsFault(_ error: DatabaseError) -> Bool {
        switch error.sqlState {
        case .dataException, .integrityConstraintViolation: true
        default: false
        }
    }

    private func keepForLater(_ error: any Error, now: UInt64) {
        nextAttemptNanoseconds = now + retryIntervalNanoseconds
        Log.message(
            .error, "audit rows kept until the database answers",
            [("rows", .int(Int64(entries.count))), ("error", .string(String(reflecting: error)))])
    }

    /// A batch the database refused: each row alone, so one bad row costs only itself.
    private func writeOneByOne(connection: Connection, batchError: any Error, now: UInt64) {
        let store = AuditStore(connection: connection)
        var remaining = entries[...]
        var refused: [AuditEntry] = []
        while let entry = remaining.first {
            do {
                try store.insert([entry])
            } catch let error as DatabaseError where Self.mayBeOneRowsFault(error) {
                refused.append(entry)
            } catch {
                entries = Array(remaining)
                keepForLater(error, now: now)
                report(refused, reason: String(reflecting: batchError))
                return
            }
            remaining = remaining.dropFirst()
        }
        entries.removeAll(keepingCapacity: true)
        report(refused, reason: String(reflecting: batchError))
    }

    /// One line per row, each whole, so the row can be inserted by hand later. Audit rows hold no secrets.
    private func report(_ rows: some Collection<AuditEntry>, reason: String) {
        for row in rows {
            Log.message(.error, "audit row not written", [("row", row.json), ("reason", .string(reason))])
        }
    }
}

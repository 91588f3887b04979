import Domain
import OpenSSL
import Postgres
import Store

/// The audit trail's hash chain: sealing committed rows in order, and checking every link.
///
/// Sealing runs in the database (`audit_seal`), verification here with OpenSSL, from the rows' text: two
/// independent implementations of the same canonical form, so a tampered function cannot vouch for itself.
public struct AuditChain {
    private let store: AuditStore

    public init(connection: Connection) {
        store = AuditStore(connection: connection)
    }

    /// Seals everything committed so far, `batch` rows per transaction, or until `deadline` (monotonic
    /// nanoseconds) passes, so that rows arriving faster than they are sealed cannot keep a run going for ever;
    /// returns how many rows it sealed.
    public func sealAll(batch: Int = 5000, until deadline: UInt64 = .max) throws -> Int {
        var total = 0
        while true {
            let sealed = try store.seal(batch: batch)
            total += sealed
            if sealed < batch || SystemClock.monotonicNanoseconds() >= deadline { return total }
        }
    }

    /// The outcome of a verification.
    public struct Report: Sendable, Equatable {
        /// Sealed rows checked.
        public let checked: Int64
        /// The last good row's place and hash (hex), which an operator can record outside the database.
        public let headSeq: Int64
        public let headHash: String
        /// Rows not yet sealed (they are checked once a sealer has run).
        public let unsealed: Int64
        /// The first broken link, or nil when the chain is intact.
        public let firstBreak: String?
    }

    /// Recomputes every link in order and reports the first one that does not hold: a missing row (a gap in the
    /// sequence), a row whose content changed, or a row whose predecessor changed. With `expectedHead`, also checks
    /// that the row at that place still has that hash, which catches rows removed from the end. With
    /// `startingAfter`, the chain is checked from the row after that one (whose hash it must continue): rows up to
    /// it were archived and deleted, as the README's retention describes.
    public func verify(
        startingAfter start: (seq: Int64, hash: [UInt8])? = nil, expectedHead: (seq: Int64, hash: String)? = nil,
        pageSize: Int = 5000
    ) throws -> Report {
        var previous = start?.hash ?? [UInt8](repeating: 0, count: 32)
        var expectedSeq: Int64 = (start?.seq ?? 0) + 1
        var checked: Int64 = 0
        var firstBreak: String?
        var headHashSeen: String?
        scan: while true {
            let rows = try store.chainPage(afterSeq: expectedSeq - 1, limit: pageSize)
            for row in rows {
                if row.seq != expectedSeq {
                    firstBreak = "row seq \(expectedSeq) is missing (deleted?); the chain continues at seq \(row.seq)"
                    break scan
                }
                if row.previousHash != previous {
                    firstBreak = "row seq \(row.seq) (id \(row.fields[0] ?? "?")) does not link to its predecessor"
                    break scan
                }
                let hash = SHA256.hash(previous + row.canonicalBytes)
                if hash != row.hash {
                    firstBreak = "row seq \(row.seq) (id \(row.fields[0] ?? "?")) was altered: its content no longer matches its seal"
                    break scan
                }
                if let expectedHead, expectedHead.seq == row.seq { headHashSeen = Hex.encode(hash) }
                previous = hash
                expectedSeq += 1
                checked += 1
            }
            if rows.count < pageSize { break }
        }
        if firstBreak == nil, let expectedHead {
            if headHashSeen == nil {
                firstBreak = "row seq \(expectedHead.seq) is gone: rows were removed from the end of the chain"
            } else if headHashSeen != expectedHead.hash.lowercased() {
                firstBreak = "row seq \(expectedHead.seq) no longer has the recorded hash: the chain was rewritten"
            }
        }
        return Report(
            checked: checked, headSeq: expectedSeq - 1, headHash: Hex.encode(previous), unsealed: try store.unsealedCount(),
            firstBreak: firstBreak)
    }
}

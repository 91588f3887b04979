import Domain
import Postgres

/// One audit row to append.
public struct AuditEntry: Sendable, Equatable {
    /// When the request arrived (rows written later in a batch keep their own time).
    public var at: Timestamp
    public var requestID: String
    public var event: String
    public var principalID: Int64?
    public var principalName: String?
    public var credentialKind: String?
    public var keyPrefix: String?
    public var method: String
    public var route: String?
    public var status: Int
    public var latencyMicroseconds: Int64
    public var clientAddress: String?
    public var userAgent: String?
    /// A JSON object with the event's reason, permission or object; never a secret.
    public var detail: JSON

    public init(
        at: Timestamp, requestID: String, event: String, principalID: Int64?, principalName: String?, credentialKind: String?,
        keyPrefix: String?, method: String, route: String?, status: Int, latencyMicroseconds: Int64,
        clientAddress: String?, userAgent: String?, detail: JSON
    ) {
        self.at = at
        self.requestID = requestID
        self.event = event
        self.principalID = principalID
        self.principalName = principalName
        self.credentialKind = credentialKind
        self.keyPrefix = keyPrefix
        self.method = method
        self.route = route
        self.status = status
        self.latencyMicroseconds = latencyMicroseconds
        self.clientAddress = clientAddress
        self.userAgent = userAgent
        self.detail = detail
    }
}

extension AuditEntry {
    /// The row as `AuditInsert` sends it, and as a row that could not be written is logged.
    public var json: JSON {
        func text(_ value: String?) -> JSON { value.map(JSON.string) ?? .null }
        return .object([
            ("at_us", .int(at.microseconds)), ("request_id", .string(requestID)),
            ("event", .string(event)), ("principal_id", principalID.map(JSON.int) ?? .null),
            ("principal_name", text(principalName)), ("credential_kind", text(credentialKind)),
            ("key_prefix", text(keyPrefix)), ("method", .string(method)), ("route", text(route)),
            ("status", .int(Int64(status))),
            ("latency_us", .int(min(latencyMicroseconds, Int64(Int32.max)))),
            ("client_addr", text(clientAddress)), ("user_agent", text(userAgent)),
            ("detail", detail),
        ])
    }
}

/// Filters of `GET /audit`; nil fields do not filter.
public struct AuditFilter: Sendable, Equatable {
    public var principalName: String?
    public var event: String?
    public var route: String?
    public var status: Int?
    public var from: Timestamp?
    public var to: Timestamp?

    public init(
        principalName: String? = nil, event: String? = nil, route: String? = nil, status: Int? = nil,
        from: Timestamp? = nil, to: Timestamp? = nil
    ) {
        self.principalName = principalName
        self.event = event
        self.route = route
        self.status = status
        self.from = from
        self.to = to
    }
}

/// A sealed row as the verifier needs it: the content fields in `audit_canonical`'s order and text form.
public struct SealedAuditRow: Sendable {
    public let seq: Int64
    /// id, at (epoch µs), request_id, event, principal_id, principal_name, credential_kind, key_prefix, method,
    /// route, status, latency_us, client_addr, user_agent, detail — nil for SQL NULL.
    public let fields: [String?]
    public let previousHash: [UInt8]
    public let hash: [UInt8]

    /// The bytes the seal covers: each field as `<octet length>:<text>` (NULL as `~`), separated by `|`, after
    /// the row's place in the chain; the same as `audit_canonical` in sql/migrations/0002_identity.sql.
    public var canonicalBytes: [UInt8] {
        var bytes: [UInt8] = []
        for (index, field) in ([String(seq)] + fields).enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: "|")) }
            guard let field else {
                bytes.append(UInt8(ascii: "~"))
                continue
            }
            bytes.append(contentsOf: "\(field.utf8.count):".utf8)
            bytes.append(contentsOf: field.utf8)
        }
        return bytes
    }
}

/// The audit trail: appending, reading, exporting and sealing. The responders' role can only insert and read.
public struct AuditStore {
    private let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// Appends rows in one statement (inside the caller's transaction when there is one).
    public func insert(_ entries: [AuditEntry]) throws {
        guard !entries.isEmpty else { return }
        try connection.execute(AuditInsert(entries: entries))
    }

    /// Appends rows to the caller's transaction without a round trip of its own: it goes with the transaction's
    /// next statement or its COMMIT, and an error in it rolls the transaction back.
    public func insertBeforeCommit(_ entries: [AuditEntry]) {
        guard !entries.isEmpty else { return }
        connection.executeBeforeCommit(AuditInsert(entries: entries))
    }

    /// Up to `limit` rows matching `filter`, newest first, before the cursor id.
    public func list(_ filter: AuditFilter, beforeID: Int64?, limit: Int) throws -> [(id: Int64, json: String)] {
        try connection.rows(AuditList(filter: filter, beforeID: beforeID, limit: limit))
    }

    /// One row as JSON text, or nil.
    public func get(id: Int64) throws -> String? {
        try connection.first(AuditGet(id: id))
    }

    /// Rows in a time range after `afterID`, oldest first (one page of an export).
    public func exportPage(from: Timestamp?, to: Timestamp?, afterID: Int64, limit: Int) throws
        -> [(id: Int64, json: String)]
    {
        try connection.rows(AuditExportPage(from: from, to: to, afterID: afterID, limit: limit))
    }

    /// Seals up to `batch` committed rows into the chain; returns how many were sealed.
    public func seal(batch: Int) throws -> Int {
        try connection.first(AuditSeal(batch: batch)) ?? 0
    }

    /// Sealed rows after `afterSeq`, in chain order.
    public func chainPage(afterSeq: Int64, limit: Int) throws -> [SealedAuditRow] {
        try connection.rows(AuditChainPage(afterSeq: afterSeq, limit: limit))
    }

    /// How many rows wait to be sealed.
    public func unsealedCount() throws -> Int64 {
        try connection.first(AuditUnsealedCount()) ?? 0
    }
}

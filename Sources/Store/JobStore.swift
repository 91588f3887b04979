import Domain
import Postgres

/// A validated submission, ready for the database.
public struct JobSubmission: Sendable, Equatable {
    public var ownerID: Int64
    public var idempotencyKey: String?
    /// SHA-256 of the request body, to tell a retry from a different request under the same key.
    public var requestHash: [UInt8]?
    public var name: String
    public var kind: JobKind
    public var target: String
    public var program: String
    public var shots: Int?
    public var priority: Int
    public var maxDurationSeconds: Int
    public var metadataJSON: String
    public var qubits: Int?

    public init(
        ownerID: Int64, idempotencyKey: String?, requestHash: [UInt8]?, name: String, kind: JobKind, target: String,
        program: String, shots: Int?, priority: Int, maxDurationSeconds: Int, metadataJSON: String, qubits: Int?
    ) {
        self.ownerID = ownerID
        self.idempotencyKey = idempotencyKey
        self.requestHash = requestHash
        self.name = name
        self.kind = kind
        self.target = target
        self.program = program
        self.shots = shots
        self.priority = priority
        self.maxDurationSeconds = maxDurationSeconds
        self.metadataJSON = metadataJSON
        self.qubits = qubits
    }
}

/// A job rendered by the database, with its version (the long-poll index of `GET /jobs/{id}`).
public struct JobDocument: Sendable, Equatable {
    public let version: Int64
    public let json: String
}

/// Filters of `GET /jobs`; nil fields do not filter.
public struct JobFilter: Sendable, Equatable {
    public var ownerID: Int64?
    public var states: [JobState]?
    public var target: String?
    public var kind: JobKind?
    public var namePrefix: String?
    public var createdAfter: Timestamp?
    public var createdBefore: Timestamp?

    public init() {}
}

/// Jobs: submitting, reading, listing, and the changes users make. Placement and execution are the batch
/// executables' (SchedulerStore, ExecutorStore).
public struct JobStore {
    private let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// The outcome of a submission.
    public enum SubmitOutcome {
        case created(JobDocument, id: Int64)
        /// An earlier request with this Idempotency-Key made this job; the request is the same one.
        case replayed(JobDocument, id: Int64)
        /// The key was used for a different request.
        case keyReused
        /// The key's job has since been deleted.
        case keyJobGone
    }

    /// Inserts jobs (or finds the jobs of live Idempotency-Keys) in one statement and returns them rendered, in the
    /// order of `submissions`, and commits the caller's transaction in the same round trip
    /// (`Connection.executeAndCommit`): the documents are read right after `job_submit_batch`, then COMMIT and the
    /// announcement of the new jobs follow. `createdAudit` holds the audit row of each submission (same order) should it
    /// create its job; those rows are written in the same statement, with the job's id in their detail. The same
    /// owner's Idempotency-Key may appear only once in a call. Returns the announcement's failure beside the outcomes:
    /// the jobs are committed either way.
    public func submitAndCommit(
        _ submissions: [JobSubmission], createdAudit: [AuditEntry]
    ) throws -> (outcomes: [SubmitOutcome], announcementFailure: (any Error)?) {
        precondition(createdAudit.count == submissions.count, "one audit row for each submission")
        let read = JobsSubmittedGet()
        let ahead = ReadAhead(read)
        let (result, announcementFailure) = try connection.executeAndCommit(
            JobSubmitBatch(submissions: submissions, createdAudit: createdAudit), readingAhead: ahead,
            followedBy: JobAnnounce())
        guard result.rowCount == submissions.count, let documentRows = ahead.result(of: read) else {
            throw DatabaseError(sqlState: SQLState("P0002"), message: "job_submit_batch returned too few rows")
        }
        var documents: [Int64: JobDocument] = [:]
        for index in 0..<documentRows.rowCount {
            let row = try JobsSubmittedGet.decode(documentRows[index])
            documents[row.id] = row.document
        }
        let outcomes = try (0..<result.rowCount).map { index -> SubmitOutcome in
            let row = try JobSubmitBatch.decode(result[index])
            guard let id = row.jobID else { return .keyJobGone }
            guard row.isSameRequest else { return .keyReused }
            guard let document = documents[id] else { return .keyJobGone }
            return row.isCreated ? .created(document, id: id) : .replayed(document, id: id)
        }
        return (outcomes, announcementFailure)
    }

    /// One job, or nil when it does not exist or belongs to another owner. Uses the read `ahead` (from
    /// `readAhead(id:withProgram:)`) when it came back, instead of a round trip of its own.
    public func get(
        id: Int64, ownerFilter: Int64?, withProgram: Bool = false, ahead: ReadAhead? = nil
    ) throws -> JobDocument? {
        if let result = ahead?.result(of: JobGet(id: id, ownerFilter: nil, withProgram: withProgram)) {
            guard result.rowCount > 0 else { return nil }
            let row = result[0]
            if let ownerFilter, try row.int(2) != ownerFilter { return nil }
            return try JobGet.decode(row)
        }
        return try connection.first(JobGet(id: id, ownerFilter: ownerFilter, withProgram: withProgram))
    }

    /// The read of `get`, to send before the caller is known: any owner's job, filtered by `get` when used.
    public static func readAhead(id: Int64, withProgram: Bool) -> ReadAhead {
        ReadAhead(JobGet(id: id, ownerFilter: nil, withProgram: withProgram))
    }

    /// The small status document.
    public func status(id: Int64, ownerFilter: Int64?) throws -> JobDocument? {
        try connection.first(JobStatusGet(id: id, ownerFilter: ownerFilter))
    }

    /// The job's state, or nil when it is not visible.
    public func state(id: Int64, ownerFilter: Int64?) throws -> JobState? {
        try connection.first(JobStateGet(id: id, ownerFilter: ownerFilter))
    }

    /// A page of jobs, newest first.
    public func list(_ filter: JobFilter, beforeID: Int64?, limit: Int) throws -> [(id: Int64, json: String)] {
        try connection.rows(JobList(filter: filter, beforeID: beforeID, limit: limit))
    }

    /// State, result and error.
    public func results(id: Int64, ownerFilter: Int64?) throws -> (state: JobState, json: String)? {
        try connection.first(JobResultsGet(id: id, ownerFilter: ownerFilter))
    }

    /// Cancels (or asks the executor to cancel); nil when the job is not visible or already finished.
    public func cancel(id: Int64, ownerFilter: Int64?) throws -> JobDocument? {
        try connection.first(JobCancel(id: id, ownerFilter: ownerFilter))
    }

    /// Extends a running job's deadline; nil when not running or past the 24-hour bound.
    public func extend(id: Int64, ownerFilter: Int64?, seconds: Int) throws -> JobDocument? {
        try connection.first(JobExtend(id: id, ownerFilter: ownerFilter, seconds: seconds))
    }

    /// Queues a finished unsuccessful job again; nil when not allowed.
    public func retry(id: Int64, ownerFilter: Int64?) throws -> JobDocument? {
        try connection.first(JobRetry(id: id, ownerFilter: ownerFilter))
    }

    /// Attempts used and allowed.
    public func attempts(id: Int64) throws -> (attempt: Int, maxAttempts: Int)? {
        try connection.first(JobAttempts(id: id))
    }

    /// Deletes a finished job; false when it is not visible or not finished.
    public func delete(id: Int64, ownerFilter: Int64?) throws -> Bool {
        try connection.first(JobDelete(id: id, ownerFilter: ownerFilter)) != nil
    }

    /// Queue statistics as JSON.
    public func queueStats() throws -> String {
        try connection.first(QueueStatsGet()) ?? "{}"
    }

    /// Cluster status as JSON.
    public func clusterStatus() throws -> String {
        try connection.first(ClusterStatusGet()) ?? "{}"
    }

    /// The statement that sends the notifications of committed job changes a deferring session collected, for
    /// `Connection.transaction(followedBy:)`: it runs right after COMMIT, in the same round trip.
    public static var announcement: any Statement { JobAnnounce() }

    /// Numbers committed events; returns the highest event number.
    @discardableResult
    public func sequenceEvents() throws -> Int64 {
        try connection.first(JobEventSequence()) ?? 0
    }

    /// Numbered events after `after`, for the owner filter.
    public func events(after: Int64, ownerFilter: Int64?, limit: Int) throws -> [(seq: Int64, json: String)] {
        try connection.rows(JobEventsAfter(after: after, ownerFilter: ownerFilter, limit: limit))
    }

    /// The highest numbered event the owner filter sees.
    public func eventsHead(ownerFilter: Int64?) throws -> Int64 {
        try connection.first(JobEventsHead(ownerFilter: ownerFilter)) ?? 0
    }

    /// A principal's id by name.
    public func principalID(name: String) throws -> Int64? {
        try connection.first(PrincipalIDByName(name: name))
    }

    /// Deletes up to `limit` idempotency keys older than a day; returns how many.
    public func pruneIdempotencyKeys(limit: Int) throws -> Int {
        try connection.execute(IdempotencyKeyPrune(limit: limit)).affectedRows
    }
}

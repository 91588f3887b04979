import Domain
import Postgres

/// A job an executor claimed.
public struct ClaimedJob: Sendable, Equatable {
    public let id: Int64
    public let program: String
    public let shots: Int
    public let deviceID: String
    /// This run's attempt number (1 for the first).
    public let attempt: Int
    /// `metadata.seed`, when the submitter fixed one.
    public let seedText: String?
    /// When the run must stop (max_duration_s from its start, plus extensions).
    public let deadline: Timestamp
    /// The device's qubit count, when it declares one.
    public let deviceQubits: Int?
}

/// How a run ended.
public struct RunOutcome: Sendable, Equatable {
    public let state: JobState
    public let resultJSON: String?
    public let error: String?

    public init(state: JobState, resultJSON: String?, error: String?) {
        self.state = state
        self.resultJSON = resultJSON
        self.error = error
    }
}

/// What an executor does to jobs: claim under a lease, renew it, record the outcome.
public struct ExecutorStore {
    private let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// Claims the next scheduled circuit job of a simulator device, or nil when there is none.
    public func claimSimulatorJob(executor: String, leaseSeconds: Int) throws -> ClaimedJob? {
        try connection.first(JobClaimForSimulator(executor: executor, leaseSeconds: leaseSeconds))
    }

    /// Renews the lease; nil when it was lost.
    public func renewLease(jobID: Int64, executor: String, leaseSeconds: Int) throws -> (cancelRequested: Bool, deadline: Timestamp)? {
        try connection.first(JobLeaseRenew(jobID: jobID, executor: executor, leaseSeconds: leaseSeconds))
    }

    /// Records the outcome; false when the lease was lost and the outcome discarded.
    public func finish(jobID: Int64, executor: String, outcome: RunOutcome) throws -> Bool {
        try connection.first(JobFinishRun(jobID: jobID, executor: executor, outcome: outcome)) != nil
    }
}

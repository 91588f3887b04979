import Domain
import Postgres

/// A queued job the scheduler considers.
public struct SchedulingCandidate: Sendable, Equatable {
    public let id: Int64
    public let ownerID: Int64
    public let priority: Int
    public let kind: JobKind
    public let target: JobTarget
    public let qubits: Int?
    /// The owner's scheduled and running jobs now (fair share favours owners with fewer).
    public let ownerActive: Int

    public init(id: Int64, ownerID: Int64, priority: Int, kind: JobKind, target: JobTarget, qubits: Int?, ownerActive: Int) {
        self.id = id
        self.ownerID = ownerID
        self.priority = priority
        self.kind = kind
        self.target = target
        self.qubits = qubits
        self.ownerActive = ownerActive
    }
}

/// A device as the scheduler sees it.
/// Which queued jobs a scheduling round looks at, by target: those whose target has room now, and those whose
/// target names nothing in the fleet (to fail them). A job waiting for a full device is left out, so it cannot
/// hold back its owner's jobs for other devices.
public struct QueueTargets: Sendable, Equatable {
    /// `_any`, device ids and `group:LABEL`s with at least one online device with a free slot.
    public var withRoom: [String]
    /// `_any` (when there is any device), every device id and every `group:LABEL` of the fleet.
    public var known: [String]
    /// Targets of `withRoom` whose every device with a free slot is reserved now by one principal: only that
    /// principal's jobs for them can be placed, so a round reads no one else's.
    public var heldBy: [String: Int64]

    public init(withRoom: [String], known: [String], heldBy: [String: Int64] = [:]) {
        self.withRoom = withRoom
        self.known = known
        self.heldBy = heldBy
    }

    /// Of the targets queued jobs name, those a round should look at.
    public func considered(among queued: [String]) -> [String] {
        let withRoom = Set(withRoom)
        let known = Set(known)
        return queued.filter { withRoom.contains($0) || !known.contains($0) }
    }
}

/// How a round reads the queue for the targets it looks at.
public enum QueueScan: Sendable, Equatable {
    /// One probe per target in the by-target index, for each owner: jobs waiting for other targets (a full device)
    /// are never read, however many there are.
    case byTarget([String])
    /// Each owner's queue in priority order, leaving out jobs for the given targets: one probe per owner when few
    /// queued jobs are left out, where probing every target for every owner would cost more.
    case byOwner(excluding: [String])

    /// Up to this many targets a round probes per target. Measured with 100k queued jobs over 1,000 owners: one
    /// target with room beside a full device's queue, 17k jobs/s by target and 7.6k by owner; 8 targets, all with
    /// room, 12k by target; 48, 4.8k by target and 18k by owner.
    public static let targetProbeLimit = 8

    /// The scan for a round that looks at `considered` of the `queued` targets: by target when that leaves jobs
    /// out and the targets are few, else by owner.
    public static func forRound(considered: [String], queued: [String]) -> QueueScan {
        if considered.count < queued.count && considered.count <= targetProbeLimit { return .byTarget(considered) }
        let lookedAt = Set(considered)
        return .byOwner(excluding: queued.filter { !lookedAt.contains($0) })
    }
}

public struct DeviceSlot: Sendable, Equatable {
    public let id: String
    public let kind: DeviceKind
    public let status: DeviceStatus
    public let capacity: Int
    public let labels: [String]
    public let qubits: Int?
    /// Scheduled and running jobs now.
    public var active: Int
    /// The principal holding a reservation now, if any: only its jobs may be placed here meanwhile.
    public let reservedBy: Int64?

    public init(
        id: String, kind: DeviceKind, status: DeviceStatus, capacity: Int, labels: [String], qubits: Int?, active: Int,
        reservedBy: Int64?
    ) {
        self.id = id
        self.kind = kind
        self.status = status
        self.capacity = capacity
        self.labels = labels
        self.qubits = qubits
        self.active = active
        self.reservedBy = reservedBy
    }
}

/// The scheduler's reads and writes; one scheduling round is one transaction of these.
public struct SchedulerStore {
    private let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// The targets that queued jobs name.
    public func queuedTargets() throws -> [String] {
        try connection.rows(SchedulerQueuedTargets())
    }

    /// Owners with queued jobs the round looks at, at most `limit`, in owner order after `after`.
    public func queuedOwners(limit: Int, after: Int64, scan: QueueScan) throws -> [Int64] {
        switch scan {
        case .byTarget(let targets):
            try connection.rows(SchedulerOwnersByTarget(limit: limit, after: after, targets: targets))
        case .byOwner(let excluded):
            try connection.rows(SchedulerOwnersByOwner(limit: limit, after: after, excluded: excluded))
        }
    }

    /// Up to `perOwner` best queued jobs the round looks at of each owner, locked (inside a transaction); a job
    /// for a target of `heldBy` only when its owner holds it.
    public func candidates(owners: [Int64], perOwner: Int, scan: QueueScan, heldBy: [String: Int64])
        throws -> [SchedulingCandidate]
    {
        let held = heldBy.sorted { $0.key < $1.key }
        let heldTargets = held.map(\.key)
        let holders = held.map(\.value)
        switch scan {
        case .byTarget(let targets):
            return try connection.rows(SchedulerCandidatesByTarget(
                owners: owners, perOwner: perOwner, targets: targets, heldTargets: heldTargets, holders: holders))
        case .byOwner(let excluded):
            return try connection.rows(SchedulerCandidatesByOwner(
                owners: owners, perOwner: perOwner, excluded: excluded, heldTargets: heldTargets, holders: holders))
        }
    }

    /// Every device that is not retired, with its load.
    public func devices() throws -> [DeviceSlot] {
        try connection.rows(SchedulerDevices())
    }

    /// Places jobs; returns how many were placed.
    public func assign(_ assignments: [(jobID: Int64, deviceID: String)]) throws -> Int {
        guard !assignments.isEmpty else { return 0 }
        return try connection.execute(
            JobAssign(jobIDs: assignments.map(\.jobID), deviceIDs: assignments.map(\.deviceID))).affectedRows
    }

    /// Fails jobs that can never run; returns how many.
    public func failUnplaceable(_ failures: [(jobID: Int64, reason: String)]) throws -> Int {
        guard !failures.isEmpty else { return 0 }
        return try connection.execute(
            JobFailUnplaceable(jobIDs: failures.map(\.jobID), reasons: failures.map(\.reason))).affectedRows
    }

    /// Times out overdue running jobs; returns how many.
    public func timeOutOverdue(limit: Int) throws -> Int {
        try connection.execute(JobTimeOutOverdue(limit: limit)).affectedRows
    }

    /// Re-schedules (or fails) running jobs whose lease expired; returns how many.
    public func releaseExpiredLeases(limit: Int) throws -> Int {
        try connection.execute(JobReleaseExpiredLeases(limit: limit)).affectedRows
    }
}

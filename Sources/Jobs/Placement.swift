import Domain
import Store

/// Decides where queued jobs go: pure logic, so every rule is unit-tested without a database.
///
/// Order: priority first (higher first); within a priority, fair share between owners (an owner's next job
/// competes with the number of jobs that owner already has active, so owners take turns); then age. A job goes to
/// a device it targets that is online, runs its kind, has enough qubits, has free capacity and is not reserved by
/// someone else now; among several, the one with the most free capacity. A job that no device of the fleet could
/// ever run fails with the reason; one that could but cannot now waits.
public enum Placement {
    /// The decisions of one round.
    public struct Plan: Sendable, Equatable {
        public var assignments: [(jobID: Int64, deviceID: String)] = []
        public var failures: [(jobID: Int64, reason: String)] = []

        public static func == (lhs: Plan, rhs: Plan) -> Bool {
            lhs.assignments.elementsEqual(rhs.assignments) { $0.jobID == $1.jobID && $0.deviceID == $1.deviceID }
                && lhs.failures.elementsEqual(rhs.failures) { $0.jobID == $1.jobID && $0.reason == $1.reason }
        }
    }

    /// Plans a round for `candidates` over `devices` (every non-retired device, with its current load).
    public static func plan(candidates: [SchedulingCandidate], devices: [DeviceSlot]) -> Plan {
        var devices = devices
        var plan = Plan()
        for candidate in fairOrder(candidates) {
            if let reason = neverFits(candidate, devices: devices) {
                plan.failures.append((candidate.id, reason))
                continue
            }
            let eligible = devices.indices.filter { index in
                let device = devices[index]
                return device.status == .online && device.active < device.capacity && fits(candidate, on: device)
                    && (device.reservedBy == nil || device.reservedBy == candidate.ownerID)
            }
            guard let chosen = eligible.max(by: { devices[$0].capacity - devices[$0].active < devices[$1].capacity - devices[$1].active }) else {
                continue
            }
            devices[chosen].active += 1
            plan.assignments.append((candidate.id, devices[chosen].id))
        }
        return plan
    }

    /// The targets a round should look at (see `QueueTargets`).
    public static func queueTargets(devices: [DeviceSlot]) -> QueueTargets {
        var withRoom: Set<String> = []
        var known: Set<String> = []
        var openToAll: Set<String> = []
        var holders: [String: Set<Int64>] = [:]
        for device in devices {
            let names = [device.id] + device.labels.map { "group:" + $0 } + ["_any"]
            known.formUnion(names)
            guard device.status == .online && device.active < device.capacity else { continue }
            withRoom.formUnion(names)
            for name in names {
                if let holder = device.reservedBy { holders[name, default: []].insert(holder) } else { openToAll.insert(name) }
            }
        }
        // Room held by several principals (devices reserved by different people) is left to the plan.
        let heldBy = holders.compactMapValues { $0.count == 1 ? $0.first : nil }.filter { !openToAll.contains($0.key) }
        return QueueTargets(withRoom: withRoom.sorted(), known: known.sorted(), heldBy: heldBy)
    }

    /// Priority first, then each owner's k-th job competes at (active jobs + k), then age (id).
    static func fairOrder(_ candidates: [SchedulingCandidate]) -> [SchedulingCandidate] {
        var rankWithinOwner: [Int64: Int] = [:]
        let ranked = candidates.sorted { ($0.priority, $1.id) > ($1.priority, $0.id) }.map { candidate -> (SchedulingCandidate, Int) in
            let rank = rankWithinOwner[candidate.ownerID, default: 0]
            rankWithinOwner[candidate.ownerID] = rank + 1
            return (candidate, candidate.ownerActive + rank)
        }
        return ranked.sorted { lhs, rhs in
            if lhs.0.priority != rhs.0.priority { return lhs.0.priority > rhs.0.priority }
            if lhs.1 != rhs.1 { return lhs.1 < rhs.1 }
            return lhs.0.id < rhs.0.id
        }.map(\.0)
    }

    /// True when the device targets-wise, kind-wise and size-wise could run the job (ignoring its state and load).
    static func fits(_ candidate: SchedulingCandidate, on device: DeviceSlot) -> Bool {
        switch candidate.target {
        case .device(let id): guard device.id == id else { return false }
        case .group(let label): guard device.labels.contains(label) else { return false }
        case .any: break
        }
        guard device.kind.runs(candidate.kind) else { return false }
        if let needed = candidate.qubits, let available = device.qubits, needed > available { return false }
        return true
    }

    /// Why no device of the fleet could ever run the job, or nil when one could.
    static func neverFits(_ candidate: SchedulingCandidate, devices: [DeviceSlot]) -> String? {
        if devices.contains(where: { fits(candidate, on: $0) }) { return nil }
        let needs = candidate.qubits.map { "a \(candidate.kind.rawValue) job of \($0) qubits" } ?? "a \(candidate.kind.rawValue) job"
        switch candidate.target {
        case .device(let id):
            guard let device = devices.first(where: { $0.id == id }) else { return "target device \(id) does not exist" }
            if !device.kind.runs(candidate.kind) {
                return "target device \(id) is a \(device.kind.rawValue) and cannot run \(candidate.kind.rawValue) jobs"
            }
            return "target device \(id) has \(device.qubits ?? 0) qubits; the circuit needs \(candidate.qubits ?? 0)"
        case .group(let label):
            return "no device labelled \(label) can run \(needs)"
        case .any:
            return "no device can run \(needs)"
        }
    }
}

import Domain
import Store
import Testing

@testable import Jobs

@Suite struct PlacementTests {
    func job(
        _ id: Int64, owner: Int64 = 1, priority: Int = 50, kind: JobKind = .circuit, target: JobTarget = .any,
        qubits: Int? = 2, active: Int = 0
    ) -> SchedulingCandidate {
        SchedulingCandidate(id: id, ownerID: owner, priority: priority, kind: kind, target: target, qubits: qubits, ownerActive: active)
    }

    func device(
        _ id: String, kind: DeviceKind = .simulator, status: DeviceStatus = .online, capacity: Int = 10, labels: [String] = [],
        qubits: Int? = 28, active: Int = 0, reservedBy: Int64? = nil
    ) -> DeviceSlot {
        DeviceSlot(id: id, kind: kind, status: status, capacity: capacity, labels: labels, qubits: qubits, active: active, reservedBy: reservedBy)
    }

    @Test func roundsLookOnlyAtTargetsWithRoomOrUnknownToTheFleet() {
        let targets = Placement.queueTargets(devices: [
            device("full", capacity: 1, labels: ["qpu"], active: 1),
            device("free", capacity: 2, labels: ["fast"], active: 1),
            device("down", status: .maintenance, labels: ["fast"]),
        ])
        #expect(targets.withRoom == ["_any", "free", "group:fast"])
        #expect(targets.known == ["_any", "down", "free", "full", "group:fast", "group:qpu"])
        #expect(targets.considered(among: ["_any", "free", "full", "gone", "group:fast", "group:qpu"])
            == ["_any", "free", "gone", "group:fast"])
    }

    @Test func roomThatOnlyOnePrincipalMayUseIsHeldForIt() {
        let targets = Placement.queueTargets(devices: [
            device("mine", labels: ["lab"], reservedBy: 7),
            device("theirs", labels: ["shared"], reservedBy: 8),
            device("open", labels: ["shared"]),
            device("busy", capacity: 1, labels: ["lab"], active: 1),
        ])
        // `mine` is the only device of the lab with room; `shared` has an unreserved device; `_any` has too.
        #expect(targets.heldBy == ["mine": 7, "group:lab": 7, "theirs": 8])
        #expect(Placement.queueTargets(devices: [device("a", reservedBy: 7), device("b", reservedBy: 8)]).heldBy
            == ["a": 7, "b": 8], "room held by two principals is left to the plan")
    }

    @Test func roundsProbePerTargetOnlyWhenThatLeavesJobsOutAndTheTargetsAreFew() {
        #expect(QueueScan.forRound(considered: ["free"], queued: ["free", "full"]) == .byTarget(["free"]))
        let many = (1...QueueScan.targetProbeLimit + 1).map { "device-\($0)" }
        #expect(QueueScan.forRound(considered: many, queued: many + ["full"]) == .byOwner(excluding: ["full"]))
        #expect(QueueScan.forRound(considered: ["a", "b"], queued: ["a", "b"]) == .byOwner(excluding: []))
    }

    @Test func higherPriorityGoesFirstThenAge() {
        let plan = Placement.plan(
            candidates: [job(3, priority: 10), job(1, priority: 50), job(2, priority: 90), job(4, priority: 50)],
            devices: [device("sim", capacity: 3)])
        #expect(plan.assignments.map(\.jobID) == [2, 1, 4])
    }

    @Test func ownersTakeTurnsWithinAPriority() {
        let flood = (1...6).map { job(Int64($0), owner: 1) }
        let late = [job(100, owner: 2), job(101, owner: 2)]
        let plan = Placement.plan(candidates: flood + late, devices: [device("sim", capacity: 4)])
        #expect(plan.assignments.map(\.jobID) == [1, 100, 2, 101])
    }

    @Test func ownersWithActiveJobsWaitBehindOthers() {
        let plan = Placement.plan(
            candidates: [job(1, owner: 1, active: 3), job(2, owner: 2, active: 0)], devices: [device("sim", capacity: 1)])
        #expect(plan.assignments.map(\.jobID) == [2])
    }

    @Test func capacityIsNeverExceeded() {
        let plan = Placement.plan(
            candidates: (1...10).map { job(Int64($0)) }, devices: [device("a", capacity: 3, active: 1), device("b", capacity: 2)])
        #expect(plan.assignments.count == 4)
        #expect(plan.assignments.filter { $0.deviceID == "a" }.count == 2)
        #expect(plan.assignments.filter { $0.deviceID == "b" }.count == 2)
        #expect(plan.failures.isEmpty)
    }

    @Test func targetsAreRespected() {
        let devices = [
            device("sim-a", labels: ["fast"]), device("sim-b", labels: ["slow"]), device("gpu-1", kind: .gpu, qubits: nil),
        ]
        let plan = Placement.plan(
            candidates: [
                job(1, target: .device("sim-b")), job(2, target: .group("fast")), job(3, kind: .command, target: .any, qubits: nil),
            ], devices: devices)
        #expect(plan.assignments.first { $0.jobID == 1 }?.deviceID == "sim-b")
        #expect(plan.assignments.first { $0.jobID == 2 }?.deviceID == "sim-a")
        #expect(plan.assignments.first { $0.jobID == 3 }?.deviceID == "gpu-1")
    }

    @Test func offlineAndFullDevicesMakeJobsWaitNotFail() {
        let plan = Placement.plan(
            candidates: [job(1, target: .device("sim")), job(2)],
            devices: [device("sim", status: .maintenance), device("other", capacity: 1, active: 1)])
        #expect(plan.assignments.isEmpty)
        #expect(plan.failures.isEmpty)
    }

    @Test func jobsThatCanNeverFitFailWithAReason() {
        let devices = [device("sim", qubits: 28), device("gpu-1", kind: .gpu, qubits: nil)]
        let plan = Placement.plan(
            candidates: [
                job(1, target: .device("nowhere")), job(2, qubits: 40), job(3, target: .device("gpu-1")),
                job(4, target: .group("missing")), job(5, target: .device("sim"), qubits: 30),
            ], devices: devices)
        let reasons = Dictionary(uniqueKeysWithValues: plan.failures.map { ($0.jobID, $0.reason) })
        #expect(reasons[1] == "target device nowhere does not exist")
        #expect(reasons[2] == "no device can run a circuit job of 40 qubits")
        #expect(reasons[3] == "target device gpu-1 is a gpu and cannot run circuit jobs")
        #expect(reasons[4] == "no device labelled missing can run a circuit job of 2 qubits")
        #expect(reasons[5] == "target device sim has 28 qubits; the circuit needs 30")
        #expect(plan.assignments.isEmpty)
    }

    @Test func reservedDevicesTakeOnlyTheHoldersJobs() {
        let plan = Placement.plan(
            candidates: [job(1, owner: 7, target: .device("sim")), job(2, owner: 8, target: .device("sim"))],
            devices: [device("sim", reservedBy: 8)])
        #expect(plan.assignments.map(\.jobID) == [2])
        #expect(plan.failures.isEmpty)
    }

    @Test func theLeastLoadedEligibleDeviceIsChosen() {
        let plan = Placement.plan(
            candidates: [job(1), job(2)], devices: [device("a", capacity: 4, active: 3), device("b", capacity: 4, active: 1)])
        #expect(plan.assignments.map(\.deviceID) == ["b", "b"])
    }
}

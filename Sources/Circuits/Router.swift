/// Places a circuit's qubits on a device and inserts SWAPs so every two-qubit gate acts on coupled
/// physical qubits: a compact version of SABRE (Li, Ding, Xie 2019).
///
/// Gates are executed from the front of the dependency graph as soon as their qubits are coupled.
/// When none can be, the SWAP (on an edge touching a front gate) that most reduces the summed
/// distances of the front gates, plus half the average over the next twenty two-qubit gates, is
/// applied; a decay factor discourages moving the same qubits back and forth. If that heuristic
/// stalls, the oldest front gate is routed along a shortest path, which always makes progress.
/// Measurements and everything else follow the qubits to wherever they are at that moment.
struct Router {
    let map: CouplingMap
    private let distance: [[Int]]
    private let neighbours: [[Int]]

    init(map: CouplingMap) {
        self.map = map
        distance = map.distances()
        neighbours = map.neighbours
    }

    struct Routed {
        var instructions: [Instruction]
        var initialLayout: [Int]
        var finalLayout: [Int]
        var swaps: Int
    }

    /// Measurements with nothing after them on their qubit and whose bit no later `if` reads. They
    /// are held back and placed after routing, so SWAPs never follow them and a circuit measured
    /// at the end stays measured at the end.
    private static func finalMeasurements(_ circuit: Circuit) -> Set<Int> {
        var final = Set<Int>()
        var qubitUsedLater = [Bool](repeating: false, count: circuit.qubitCount)
        var clbitReadLater = [Bool](repeating: false, count: circuit.clbitCount)
        for (index, instruction) in circuit.instructions.enumerated().reversed() {
            if case .measure(let qubit, let clbit) = instruction.operation, instruction.condition == nil,
               !qubitUsedLater[qubit], !clbitReadLater[clbit] {
                final.insert(index)
                continue
            }
            if case .barrier = instruction.operation { continue }
            for qubit in instruction.operation.qubits { qubitUsedLater[qubit] = true }
            if case .measure(_, let clbit) = instruction.operation { clbitReadLater[clbit] = true }
            if let condition = instruction.condition {
                for clbit in circuit.classicalRegisters[condition.register].indices { clbitReadLater[clbit] = true }
            }
        }
        return final
    }

    /// Routes `circuit` (gates on at most two qubits) starting from `initialLayout` (logical → physical).
    func route(_ circuit: Circuit, initialLayout: [Int]) throws(CompilationError) -> Routed {
        let heldBack = Self.finalMeasurements(circuit)
        let instructions = circuit.instructions.enumerated().filter { !heldBack.contains($0.offset) }.map(\.element)
        let count = instructions.count
        // Dependency graph: an instruction waits for the previous one on each of its qubits and
        // classical bits (measure targets, condition registers).
        var successors = [[Int]](repeating: [], count: count)
        var waiting = [Int](repeating: 0, count: count)
        var lastOnQubit = [Int](repeating: -1, count: circuit.qubitCount)
        var lastOnClbit = [Int](repeating: -1, count: circuit.clbitCount)
        for (index, instruction) in instructions.enumerated() {
            var clbits: [Int] = []
            if case .measure(_, let clbit) = instruction.operation { clbits.append(clbit) }
            if let condition = instruction.condition {
                clbits.append(contentsOf: circuit.classicalRegisters[condition.register].indices)
            }
            var predecessors = Set<Int>()
            for qubit in instruction.operation.qubits where lastOnQubit[qubit] >= 0 { predecessors.insert(lastOnQubit[qubit]) }
            for clbit in clbits where lastOnClbit[clbit] >= 0 { predecessors.insert(lastOnClbit[clbit]) }
            for predecessor in predecessors { successors[predecessor].append(index) }
            waiting[index] = predecessors.count
            for qubit in instruction.operation.qubits { lastOnQubit[qubit] = index }
            for clbit in clbits { lastOnClbit[clbit] = index }
        }

        var physical = initialLayout
        var logicalAt = [Int](repeating: -1, count: map.qubitCount)
        for (logical, place) in physical.enumerated() { logicalAt[place] = logical }
        var front = (0 ..< count).filter { waiting[$0] == 0 }
        var output: [Instruction] = []
        output.reserveCapacity(count)
        var swaps = 0
        var decay = [Double](repeating: 1, count: map.qubitCount)
        var swapsWithoutProgress = 0

        func twoQubitOperands(_ index: Int) -> (Int, Int)? {
            guard case .gate(let gate) = instructions[index].operation, gate.qubits.count == 2 else { return nil }
            return (gate.qubits[0], gate.qubits[1])
        }
        func isExecutable(_ index: Int) -> Bool {
            guard let (a, b) = twoQubitOperands(index) else { return true }
            return map.areAdjacent(physical[a], physical[b])
        }
        func applySwap(_ p: Int, _ q: Int) {
            output.append(Instruction(.gate(GateApplication(.swap, qubits: [p, q]))))
            let a = logicalAt[p], b = logicalAt[q]
            logicalAt[p] = b
            logicalAt[q] = a
            if a >= 0 { physical[a] = q }
            if b >= 0 { physical[b] = p }
            swaps += 1
        }

        while !front.isEmpty {
            var executedAny = true
            while executedAny {
                executedAny = false
                var nextFront: [Int] = []
                for index in front {
                    guard isExecutable(index) else {
                        nextFront.append(index)
                        continue
                    }
                    output.append(mapped(instructions[index], physical))
                    executedAny = true
                    for successor in successors[index] {
                        waiting[successor] -= 1
                        if waiting[successor] == 0 { nextFront.append(successor) }
                    }
                }
                front = nextFront.sorted()
                if executedAny {
                    swapsWithoutProgress = 0
                    for qubit in decay.indices { decay[qubit] = 1 }
                }
            }
            if front.isEmpty { break }

            let frontPairs = front.compactMap(twoQubitOperands)
            for (a, b) in frontPairs where distance[physical[a]][physical[b]] == .max {
                throw .deviceTooSmall("qubits \(a) and \(b) must interact but their physical qubits are not connected")
            }
            if swapsWithoutProgress > 2 * map.qubitCount + 10 {
                // The heuristic is going in circles: walk the oldest gate's first qubit towards its partner.
                let (a, b) = twoQubitOperands(front[0])!
                var here = physical[a]
                let goal = physical[b]
                while distance[here][goal] > 1 {
                    let step = neighbours[here].first { distance[$0][goal] == distance[here][goal] - 1 }!
                    applySwap(here, step)
                    here = step
                }
                swapsWithoutProgress = 0
                continue
            }
            let extended = lookahead(from: front, successors: successors, waiting: waiting, limit: 20).compactMap(twoQubitOperands)
            var best: (score: Double, p: Int, q: Int)?
            var candidates: Set<[Int]> = []
            for (a, b) in frontPairs {
                for place in [physical[a], physical[b]] {
                    for neighbour in neighbours[place] { candidates.insert([min(place, neighbour), max(place, neighbour)]) }
                }
            }
            for candidate in candidates.sorted(by: { ($0[0], $0[1]) < ($1[0], $1[1]) }) {
                let (p, q) = (candidate[0], candidate[1])
                func after(_ place: Int) -> Int { place == p ? q : place == q ? p : place }
                func cost(_ pairs: [(Int, Int)]) -> Double {
                    guard !pairs.isEmpty else { return 0 }
                    var total = 0.0
                    for (a, b) in pairs { total += Double(distance[after(physical[a])][after(physical[b])]) }
                    return total / Double(pairs.count)
                }
                let score = max(decay[p], decay[q]) * (cost(frontPairs) + 0.5 * cost(extended))
                if best == nil || score < best!.score - 1e-12 { best = (score, p, q) }
            }
            guard let best else {
                throw .deviceTooSmall("no SWAP can bring the waiting gates' qubits together")
            }
            applySwap(best.p, best.q)
            decay[best.p] += 0.001
            decay[best.q] += 0.001
            swapsWithoutProgress += 1
        }
        for index in heldBack.sorted() { output.append(mapped(circuit.instructions[index], physical)) }
        return Routed(instructions: output, initialLayout: initialLayout, finalLayout: physical, swaps: swaps)
    }

    /// Up to `limit` two-qubit gates that follow the front layer, nearest first.
    private func lookahead(from front: [Int], successors: [[Int]], waiting: [Int], limit: Int) -> [Int] {
        var result: [Int] = []
        var remaining = waiting
        var queue = front
        var head = 0
        while head < queue.count && result.count < limit {
            let index = queue[head]
            head += 1
            for successor in successors[index] {
                remaining[successor] -= 1
                if remaining[successor] == 0 {
                    queue.append(successor)
                    result.append(successor)
                }
            }
        }
        return result
    }

    private func mapped(_ instruction: Instruction, _ physical: [Int]) -> Instruction {
        let operation: Operation
        switch instruction.operation {
        case .gate(let gate):
            operation = .gate(GateApplication(gate.gate, gate.parameters, qubits: gate.qubits.map { physical[$0] }))
        case .measure(let qubit, let clbit):
            operation = .measure(qubit: physical[qubit], clbit: clbit)
        case .reset(let qubit):
            operation = .reset(qubit: physical[qubit])
        case .barrier(let qubits):
            operation = .barrier(qubits: qubits.map { physical[$0] })
        }
        return Instruction(operation, condition: instruction.condition)
    }
}

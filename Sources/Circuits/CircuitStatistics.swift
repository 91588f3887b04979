/// Summary numbers for a circuit, as shown to users and compared before/after compilation.
///
/// The definitions follow Qiskit's so figures can be cross-checked: `depth` and `size` ignore
/// barriers, and `depth` treats classical bits (measure targets, condition registers) as wires.
public struct CircuitStatistics: Sendable, Hashable, Codable {
    /// Number of qubits.
    public var qubits: Int
    /// Number of classical bits.
    public var clbits: Int
    /// Longest chain of dependent operations (gates, measurements, resets; barriers excluded).
    public var depth: Int
    /// Number of operations, barriers excluded.
    public var size: Int
    /// Number of unitary gates.
    public var gates: Int
    /// Number of gates acting on two or more qubits.
    public var multiQubitGates: Int
    /// Operation counts by name (`measure`, `reset` and `barrier` included), after gate expansion.
    public var operationCounts: [String: Int]
    /// True when nothing but barriers and further measurements follows a measurement on any qubit
    /// and there is no `reset` or `if`: the final distribution then holds all the information.
    public var measuresOnlyAtEnd: Bool

    /// Computes the statistics of a circuit in one pass over its instructions.
    public init(_ circuit: Circuit) {
        qubits = circuit.qubitCount
        clbits = circuit.clbitCount
        var qubitLevels = [Int](repeating: 0, count: circuit.qubitCount)
        var clbitLevels = [Int](repeating: 0, count: circuit.clbitCount)
        var measured = [Bool](repeating: false, count: circuit.qubitCount)
        var counts: [String: Int] = [:]
        var depth = 0, size = 0, gates = 0, multiQubitGates = 0
        var onlyAtEnd = true
        for instruction in circuit.instructions {
            let operation = instruction.operation
            counts[operation.name, default: 0] += 1
            if case .barrier = operation { continue }
            size += 1
            var clbitWires: [Int] = []
            switch operation {
            case .gate(let application):
                gates += 1
                if application.qubits.count > 1 { multiQubitGates += 1 }
                if application.qubits.contains(where: { measured[$0] }) { onlyAtEnd = false }
            case .measure(let qubit, let clbit):
                clbitWires.append(clbit)
                measured[qubit] = true
            case .reset:
                onlyAtEnd = false
            case .barrier:
                break
            }
            if let condition = instruction.condition {
                onlyAtEnd = false
                clbitWires.append(contentsOf: circuit.classicalRegisters[condition.register].indices)
            }
            var level = 0
            for qubit in operation.qubits { level = max(level, qubitLevels[qubit]) }
            for clbit in clbitWires { level = max(level, clbitLevels[clbit]) }
            level += 1
            for qubit in operation.qubits { qubitLevels[qubit] = level }
            for clbit in clbitWires { clbitLevels[clbit] = level }
            depth = max(depth, level)
        }
        self.depth = depth
        self.size = size
        self.gates = gates
        self.multiQubitGates = multiQubitGates
        operationCounts = counts
        measuresOnlyAtEnd = onlyAtEnd
    }
}

extension Circuit {
    /// Qubit count, depth, gate counts and related figures; computed on each access.
    public var statistics: CircuitStatistics { CircuitStatistics(self) }
}

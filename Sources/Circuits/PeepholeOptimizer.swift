/// Local rewrites that shrink a circuit without changing what it does (up to global phase).
///
/// One scan keeps, for every qubit, the stack of kept instructions that touch it, so "the previous
/// operation on these qubits" is found in constant time and removals cascade (`h x x h` vanishes).
/// Rewrites: drop gates that are the identity up to phase (`id`, zero rotations), cancel adjacent
/// inverse pairs, merge adjacent rotations about the same axis, and, when a basis is given, replace
/// runs of single-qubit gates by a shorter synthesis. Conditional operations, measurements, resets
/// and barriers are never crossed.
struct PeepholeOptimizer {
    /// When set, runs of single-qubit gates are resynthesised with it if that is shorter.
    var synthesis: OneQubitSynthesis?

    private static let selfInverse: Set<StandardGate> = [
        .x, .y, .z, .h, .cx, .CX, .cz, .cy, .ch, .swap, .ccx, .cswap, .c3x, .c4x, .id,
    ]
    private static let inversePairs: [StandardGate: StandardGate] = [
        .s: .sdg, .sdg: .s, .t: .tdg, .tdg: .t, .sx: .sxdg, .sxdg: .sx,
    ]
    private static let additive: Set<StandardGate> = [.rx, .ry, .rz, .p, .u1, .rzz, .rxx, .cp, .cu1, .crx, .cry, .crz]
    /// Gates whose two operands can be exchanged without changing the gate.
    private static let symmetric: Set<StandardGate> = [.cz, .swap, .rzz, .rxx, .cp, .cu1]

    func optimize(_ circuit: Circuit) -> Circuit {
        var instructions = circuit.instructions
        for _ in 0 ..< 10 {
            let (rewritten, changed) = peephole(instructions, qubitCount: circuit.qubitCount)
            instructions = rewritten
            var resynthesized = false
            if let synthesis {
                (instructions, resynthesized) = resynthesize(instructions, qubitCount: circuit.qubitCount, synthesis)
            }
            if !changed && !resynthesized { break }
        }
        var result = circuit.emptyCopy()
        result.replaceInstructions(instructions)
        return result
    }

    // MARK: - Cancellation and merging

    private func peephole(_ instructions: [Instruction], qubitCount: Int) -> ([Instruction], Bool) {
        var kept: [Instruction?] = []
        var stacks = [[Int]](repeating: [], count: qubitCount)
        var changed = false
        for instruction in instructions {
            if instruction.condition == nil, case .gate(let gate) = instruction.operation {
                if Self.isIdentity(gate) {
                    changed = true
                    continue
                }
                if let previousIndex = stacks[gate.qubits[0]].last,
                   gate.qubits.allSatisfy({ stacks[$0].last == previousIndex }),
                   let previous = kept[previousIndex], previous.condition == nil,
                   case .gate(let previousGate) = previous.operation,
                   Set(previousGate.qubits) == Set(gate.qubits) {
                    if Self.cancels(previousGate, gate) {
                        kept[previousIndex] = nil
                        for qubit in gate.qubits { stacks[qubit].removeLast() }
                        changed = true
                        continue
                    }
                    if let merged = Self.merge(previousGate, gate) {
                        if Self.isIdentity(merged) {
                            kept[previousIndex] = nil
                            for qubit in gate.qubits { stacks[qubit].removeLast() }
                        } else {
                            kept[previousIndex] = Instruction(.gate(merged))
                        }
                        changed = true
                        continue
                    }
                }
            }
            kept.append(instruction)
            for qubit in Set(instruction.operation.qubits) { stacks[qubit].append(kept.count - 1) }
        }
        return (kept.compactMap { $0 }, changed)
    }

    private static func sameOperands(_ a: GateApplication, _ b: GateApplication) -> Bool {
        a.qubits == b.qubits || (symmetric.contains(a.gate) && a.qubits == b.qubits.reversed())
    }

    static func cancels(_ a: GateApplication, _ b: GateApplication) -> Bool {
        guard sameOperands(a, b) else { return false }
        if a.gate == b.gate && selfInverse.contains(a.gate) { return true }
        return inversePairs[a.gate] == b.gate
    }

    /// One rotation for two adjacent ones about the same axis. The angle is kept within one period (4π covers every
    /// additive gate exactly), so that merging never overflows: `rz(1e308)` twice would be `rz(inf)`.
    static func merge(_ a: GateApplication, _ b: GateApplication) -> GateApplication? {
        guard a.gate == b.gate, additive.contains(a.gate), sameOperands(a, b) else { return nil }
        let period = 4 * Double.pi
        let sum = a.parameters[0].remainder(dividingBy: period) + b.parameters[0].remainder(dividingBy: period)
        return GateApplication(a.gate, [sum.remainder(dividingBy: period)], qubits: a.qubits)
    }

    /// Whether the gate is the identity up to a global phase.
    static func isIdentity(_ gate: GateApplication) -> Bool {
        if gate.gate == .id || gate.gate == .u0 { return true }
        guard gate.gate.parameterCount > 0 else { return false }
        let matrix = gate.matrix
        let dimension = 1 << gate.qubits.count
        let phase = matrix[0]
        guard abs(phase.magnitude - 1) < 1e-12 else { return false }
        for row in 0 ..< dimension {
            for column in 0 ..< dimension {
                let expected = row == column ? phase : .zero
                if !matrix[row * dimension + column].isClose(to: expected, tolerance: 1e-12) { return false }
            }
        }
        return true
    }

    // MARK: - Single-qubit runs

    private func resynthesize(_ instructions: [Instruction], qubitCount: Int, _ synthesis: OneQubitSynthesis) -> ([Instruction], Bool) {
        var slots: [[Instruction]] = instructions.map { [$0] }
        var runs = [[Int]](repeating: [], count: qubitCount)
        var changed = false
        func flush(_ qubit: Int) {
            let run = runs[qubit]
            runs[qubit] = []
            guard run.count >= 2 else { return }
            var matrix = StandardGate.identity(dimension: 2)
            for index in run {
                guard case .gate(let gate) = instructions[index].operation else { continue }
                matrix = multiply2(gate.matrix, matrix)
            }
            guard let replacement = synthesis.synthesize(matrix, on: qubit), replacement.count < run.count else { return }
            slots[run[0]] = replacement.map { Instruction(.gate($0)) }
            for index in run.dropFirst() { slots[index] = [] }
            changed = true
        }
        for (index, instruction) in instructions.enumerated() {
            if instruction.condition == nil, case .gate(let gate) = instruction.operation, gate.qubits.count == 1 {
                runs[gate.qubits[0]].append(index)
            } else {
                for qubit in instruction.operation.qubits { flush(qubit) }
            }
        }
        for qubit in 0 ..< qubitCount { flush(qubit) }
        return (slots.flatMap { $0 }, changed)
    }
}

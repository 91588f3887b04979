/// Compiles circuits for a device and optimizes them.
///
/// `compile` unrolls every gate into the target's basis (through the `qelib1.inc` definitions and
/// single-qubit synthesis), routes the circuit onto the coupling map with SWAPs, fixes the direction
/// of two-qubit gates on directed maps, and optimizes the result. The compiled circuit produces the
/// same counts as the original, and the same state up to global phase and the final layout.
public enum Compiler {
    /// The largest circuit a compilation may produce. A small program can unroll into a huge one (`c4x` alone
    /// becomes about 150 basis gates), so the output is bounded, not only the input.
    public static let maximumInstructions = 2_000_000

    /// Compiles `circuit` for `target`, into at most `limit` instructions.
    public static func compile(
        _ circuit: Circuit, for target: CompilationTarget, limit: Int = maximumInstructions
    ) throws(CompilationError) -> CompilationResult {
        let before = circuit.statistics
        let unroller = try Unroller(target: target)
        var unrolled = circuit.emptyCopy()
        for instruction in circuit.instructions {
            for part in try unroller.unroll(instruction, forRouting: target.couplingMap != nil) {
                unrolled.appendUnchecked(part)
            }
            guard unrolled.instructions.count <= limit else { throw .tooLarge(limit) }
        }
        var compiled = unrolled
        var initialLayout = Array(0 ..< circuit.qubitCount)
        var finalLayout = initialLayout
        var swaps = 0
        if let map = target.couplingMap {
            guard map.qubitCount >= circuit.qubitCount else {
                throw .deviceTooSmall("the circuit has \(circuit.qubitCount) qubits, the device \(map.qubitCount)")
            }
            let router = Router(map: map)
            // SABRE's layout search: route forward, then the reversed interaction sequence from where
            // that ended; where the backward pass ends is a layout that suits the circuit's start.
            let trivial = Array(0 ..< circuit.qubitCount)
            let forward = try router.route(unrolled, initialLayout: trivial)
            let backward = try router.route(reversedTwoQubitGates(unrolled), initialLayout: forward.finalLayout)
            let candidate = try router.route(unrolled, initialLayout: backward.finalLayout)
            let routed = candidate.swaps < forward.swaps ? candidate : forward
            var onDevice = circuit.withSingleQuantumRegister(qubits: map.qubitCount)
            for instruction in routed.instructions {
                for part in try unroller.unroll(instruction, forRouting: true) {
                    for oriented in try unroller.orient(part, on: map) { onDevice.appendUnchecked(oriented) }
                }
                guard onDevice.instructions.count <= limit else { throw .tooLarge(limit) }
            }
            compiled = onDevice
            initialLayout = routed.initialLayout
            finalLayout = routed.finalLayout
            swaps = routed.swaps
        }
        let optimized = PeepholeOptimizer(synthesis: unroller.synthesis).optimize(compiled)
        return CompilationResult(circuit: optimized, initialLayout: initialLayout, finalLayout: finalLayout,
                                 before: before, after: optimized.statistics, swapsInserted: swaps)
    }

    /// Removes identities, cancels adjacent inverse pairs and merges adjacent rotations, keeping the
    /// gate set and the registers.
    public static func optimize(_ circuit: Circuit) -> OptimizationResult {
        let optimized = PeepholeOptimizer(synthesis: nil).optimize(circuit)
        return OptimizationResult(circuit: optimized, before: circuit.statistics, after: optimized.statistics)
    }

    /// The two-qubit gates in reverse order: all the backward layout pass needs.
    private static func reversedTwoQubitGates(_ circuit: Circuit) -> Circuit {
        var reversed = circuit.emptyCopy()
        for instruction in circuit.instructions.reversed() {
            if case .gate(let gate) = instruction.operation, gate.qubits.count == 2 {
                reversed.appendUnchecked(Instruction(.gate(gate)))
            }
        }
        return reversed
    }
}

/// Rewrites gates into a target basis.
struct Unroller {
    let basis: Set<String>
    let synthesis: OneQubitSynthesis
    private static let nonGates: Set<String> = ["measure", "reset", "barrier"]

    init(target: CompilationTarget) throws(CompilationError) {
        for name in target.basisGates where StandardGate(name: name) == nil && !Self.nonGates.contains(name) {
            throw .unknownBasisGate(name)
        }
        basis = target.basisGates
        synthesis = OneQubitSynthesis(basis: target.basisGates)
    }

    /// The instruction with its gate written in the basis; the condition, if any, stays on every part.
    func unroll(_ instruction: Instruction, forRouting: Bool) throws(CompilationError) -> [Instruction] {
        guard case .gate(let gate) = instruction.operation else { return [instruction] }
        return try unroll(gate, forRouting: forRouting, depth: 0).map { Instruction(.gate($0), condition: instruction.condition) }
    }

    private func unroll(_ gate: GateApplication, forRouting: Bool, depth: Int) throws(CompilationError) -> [GateApplication] {
        if basis.contains(gate.gate.name) && !(forRouting && gate.qubits.count > 2) { return [gate] }
        if gate.qubits.count == 1 {
            if let synthesized = synthesis.synthesize(gate.matrix, on: gate.qubits[0]) { return synthesized }
        } else if gate.gate == .cx || gate.gate == .CX {
            return try controlledX(gate.qubits[0], gate.qubits[1])
        }
        guard let parts = GateLibrary.decompose(gate), depth < 16 else {
            throw .basisCannotExpress("'\(gate.gate.name)' (add a general single-qubit gate such as u3, or rz with sx, ry or rx)")
        }
        var result: [GateApplication] = []
        for part in parts { result += try unroll(part, forRouting: forRouting, depth: depth + 1) }
        return result
    }

    private func oneQubit(_ gate: StandardGate, _ parameters: [Double] = [], on qubit: Int) throws(CompilationError) -> [GateApplication] {
        let application = GateApplication(gate, parameters, qubits: [qubit])
        if basis.contains(gate.name) { return [application] }
        guard let synthesized = synthesis.synthesize(application.matrix, on: qubit) else {
            throw .basisCannotExpress("'\(gate.name)', needed to build a CX")
        }
        return synthesized
    }

    /// CX in terms of the basis's two-qubit gate.
    private func controlledX(_ control: Int, _ target: Int) throws(CompilationError) -> [GateApplication] {
        if basis.contains("cx") { return [GateApplication(.cx, qubits: [control, target])] }
        if basis.contains("CX") { return [GateApplication(.CX, qubits: [control, target])] }
        let hadamard = try oneQubit(.h, on: target)
        if basis.contains("cz") {
            return hadamard + [GateApplication(.cz, qubits: [control, target])] + hadamard
        }
        if let phase = ["cp", "cu1"].first(where: { basis.contains($0) }) {
            return hadamard + [GateApplication(StandardGate(rawValue: phase)!, [.pi], qubits: [control, target])] + hadamard
        }
        if basis.contains("rzz") {
            // CZ = (RZ(π/2) ⊗ RZ(π/2)) · RZZ(-π/2) up to global phase.
            return hadamard + [GateApplication(.rzz, [-.pi / 2], qubits: [control, target])]
                + (try oneQubit(.rz, [.pi / 2], on: control)) + (try oneQubit(.rz, [.pi / 2], on: target)) + hadamard
        }
        throw .basisCannotExpress("two-qubit gates (add cx, cz, cp, cu1 or rzz)")
    }

    /// The instruction with its two-qubit gate pointing along an allowed edge of a directed map.
    func orient(_ instruction: Instruction, on map: CouplingMap) throws(CompilationError) -> [Instruction] {
        guard map.isDirected, case .gate(let gate) = instruction.operation, gate.qubits.count == 2,
              !map.allows(gate.qubits[0], gate.qubits[1]) else { return [instruction] }
        let (a, b) = (gate.qubits[0], gate.qubits[1])
        let reversed: [GateApplication]
        switch gate.gate {
        case .cz, .cp, .cu1, .rzz, .rxx, .swap:
            reversed = [GateApplication(gate.gate, gate.parameters, qubits: [b, a])]
        case .cx, .CX:
            let hadamards = try oneQubit(.h, on: a) + (try oneQubit(.h, on: b))
            reversed = hadamards + [GateApplication(gate.gate, qubits: [b, a])] + hadamards
        default:
            throw .basisCannotExpress("'\(gate.gate.name)' against the direction of the coupling map")
        }
        return reversed.map { Instruction(.gate($0), condition: instruction.condition) }
    }
}

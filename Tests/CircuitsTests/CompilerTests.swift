import Testing
@testable import Circuits

@Suite("Compiler and optimizer")
struct CompilerTests {
    /// The compiled state, read back in logical order through the final layout; other physical
    /// qubits must be |0>.
    private func logicalState(_ compiled: CompilationResult, logicalQubits: Int) throws -> [Complex] {
        let physicalState = try Simulator().statevector(compiled.circuit)
        var state = [Complex](repeating: .zero, count: 1 << logicalQubits)
        var used = Set<Int>()
        for logicalIndex in 0 ..< state.count {
            var physicalIndex = 0
            for (logical, physical) in compiled.finalLayout.enumerated() where logicalIndex & (1 << logical) != 0 {
                physicalIndex |= 1 << physical
            }
            state[logicalIndex] = physicalState[physicalIndex]
            used.insert(physicalIndex)
        }
        for (index, amplitude) in physicalState.enumerated() where !used.contains(index) {
            #expect(amplitude.magnitude < 1e-9, "ancilla qubits must stay in |0>")
        }
        return state
    }

    private func gatesUsed(_ circuit: Circuit) -> Set<String> {
        Set(circuit.statistics.operationCounts.keys).subtracting(["measure", "reset", "barrier"])
    }

    static let targets: [(String, Set<String>, CouplingMap?)] = [
        ("u3+cx", ["u3", "cx"], nil),
        ("ibm", ["rz", "sx", "x", "cx"], CouplingMap.line(7)),
        ("zyz+cz ring", ["rz", "ry", "cz"], try! CouplingMap(edges: [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 0]])),
        ("directed", ["u", "cx"], try! CouplingMap(edges: [[0, 1], [2, 1], [2, 3], [4, 3], [4, 5]], directed: true)),
        ("zxz+cp", ["rx", "rz", "cp"], nil),
        ("h+p+rzz", ["h", "p", "rzz"], CouplingMap.line(6)),
    ]

    @Test("compiled random circuits keep their state up to global phase and the final layout",
          arguments: Array(targets.indices), [UInt64(1), 2, 3])
    func compiledEquivalence(targetIndex: Int, seed: UInt64) throws {
        let (name, basis, map) = Self.targets[targetIndex]
        let original = randomCircuit(qubits: 5, gates: 40, seed: seed)
        let compiled = try Compiler.compile(original, for: CompilationTarget(basisGates: basis, couplingMap: map))
        #expect(gatesUsed(compiled.circuit).isSubset(of: basis), "\(name): \(gatesUsed(compiled.circuit))")
        if let map {
            for instruction in compiled.circuit.instructions {
                guard case .gate(let gate) = instruction.operation, gate.qubits.count == 2 else { continue }
                #expect(map.isDirected ? map.allows(gate.qubits[0], gate.qubits[1]) : map.areAdjacent(gate.qubits[0], gate.qubits[1]),
                        "\(name): \(gate.gate.name) on \(gate.qubits)")
            }
        }
        let expected = Reference.statevector(original)
        #expect(equalUpToGlobalPhase(try logicalState(compiled, logicalQubits: 5), expected, tolerance: 1e-8), "\(name)")
        #expect(compiled.before == original.statistics)
        #expect(compiled.after == compiled.circuit.statistics)
    }

    @Test("measurements follow routed qubits: exact distributions are unchanged")
    func measurementsFollowRouting() throws {
        var original = randomCircuit(qubits: 5, gates: 30, seed: 12)
        let register = original.addClassicalRegister(name: "c", size: 5)
        for qubit in 0 ..< 5 { original.append(.measure(qubit: qubit, clbit: register.lowerBound + 4 - qubit)) }
        let compiled = try Compiler.compile(original, for: CompilationTarget(basisGates: ["rz", "sx", "cx"], couplingMap: .line(5)))
        #expect(compiled.swapsInserted > 0)
        let before = try Simulator().probabilities(original).probabilities
        let after = try Simulator().probabilities(compiled.circuit).probabilities
        #expect(Set(before.keys) == Set(after.keys))
        for (key, probability) in before { #expect(abs(probability - after[key]!) < 1e-9) }
    }

    @Test("conditional operations survive compilation with their conditions")
    func conditionsKept() throws {
        let original = try OpenQASM.parse(header + "qreg q[3];\ncreg c[1];\nh q[0];\nmeasure q[0] -> c[0];\nif (c == 1) ccx q[0], q[1], q[2];\n")
        let compiled = try Compiler.compile(original, for: CompilationTarget(basisGates: ["u3", "cx"], couplingMap: .line(3)))
        let conditional = compiled.circuit.instructions.filter { $0.condition != nil }
        #expect(!conditional.isEmpty)
        #expect(conditional.allSatisfy { $0.condition == Condition(register: 0, value: 1) })
    }

    @Test("bases that cannot express the circuit are reported")
    func impossibleBases() throws {
        let circuit = try OpenQASM.parse(header + "qreg q[2];\nrx(0.3) q[0];\ncx q[0], q[1];\n")
        #expect(throws: CompilationError.self) { try Compiler.compile(circuit, for: CompilationTarget(basisGates: ["u3"])) }
        #expect(throws: CompilationError.self) { try Compiler.compile(circuit, for: CompilationTarget(basisGates: ["h", "cx"])) }
        #expect(throws: CompilationError.unknownBasisGate("warp")) {
            try Compiler.compile(circuit, for: CompilationTarget(basisGates: ["warp", "cx"]))
        }
        #expect(throws: CompilationError.self) {
            try Compiler.compile(circuit, for: CompilationTarget(basisGates: ["u3", "cx"], couplingMap: .line(1)))
        }
        #expect(throws: CompilationError.self) {
            try Compiler.compile(circuit, for: CompilationTarget(basisGates: ["u3", "cx"], couplingMap: CouplingMap(edges: [[2, 3]])))
        }
        #expect(throws: CompilationError.self) { try CouplingMap(edges: [[1, 1]]) }
        // Indices past the largest map (a huge one would trap on `+ 1`, or build a distance table of every pair).
        #expect(throws: CompilationError.self) { try CouplingMap(edges: [[0, Int.max]]) }
        #expect(throws: CompilationError.self) { try CouplingMap(edges: [[0, 1]], qubitCount: CouplingMap.maximumQubits + 1) }
        #expect(try CouplingMap(edges: [[0, CouplingMap.maximumQubits - 1]]).qubitCount == CouplingMap.maximumQubits)
    }

    @Test("the compiled circuit is bounded, not only the program")
    func outputLimit() throws {
        // 10 lines of c4x unroll into about 1,500 basis gates.
        let circuit = try OpenQASM.parse(header + "qreg q[5];\n" + String(repeating: "c4x q[0],q[1],q[2],q[3],q[4];\n", count: 10))
        let target = CompilationTarget(basisGates: ["rz", "sx", "x", "cx"])
        #expect(throws: CompilationError.tooLarge(1000)) { try Compiler.compile(circuit, for: target, limit: 1000) }
        #expect(try Compiler.compile(circuit, for: target, limit: 100_000).after.size > 1000)
    }

    @Test("the optimizer cancels inverses, merges rotations and drops identities")
    func peepholes() throws {
        let circuit = try OpenQASM.parse(header + """
            qreg q[3];
            h q[0];
            x q[1];
            x q[1];
            h q[0];
            s q[2];
            sdg q[2];
            rz(0.25) q[1];
            rz(0.5) q[1];
            cx q[0], q[2];
            cx q[0], q[2];
            cz q[1], q[2];
            cz q[2], q[1];
            id q[0];
            rx(0) q[0];
            u1(0.1) q[0];
            barrier q[0];
            u1(-0.1) q[0];
            """)
        let result = Compiler.optimize(circuit)
        #expect(result.circuit.instructions == [
            Instruction(.gate(GateApplication(.rz, [0.75], qubits: [1]))),
            Instruction(.gate(GateApplication(.u1, [0.1], qubits: [0]))),
            Instruction(.barrier(qubits: [0])),
            Instruction(.gate(GateApplication(.u1, [-0.1], qubits: [0]))),
        ])
        #expect(result.before.gates == 16)
        #expect(result.after.gates == 3)
    }

    @Test("merged rotations stay finite and within one period")
    func mergedAnglesStayFinite() throws {
        let huge = try OpenQASM.parse(header + "qreg q[1];\nrz(1e308) q[0];\nrz(1e308) q[0];\n")
        let merged = Compiler.optimize(huge).circuit
        let angles = merged.instructions.compactMap { if case .gate(let gate) = $0.operation { gate.parameters.first } else { nil } }
        #expect(angles.allSatisfy { $0.isFinite && abs($0) <= 2 * Double.pi }, "\(angles)")
        #expect(try OpenQASM.parse(OpenQASM.write(merged)).qubitCount == 1, "the written circuit parses again")
        // Whole periods cancel exactly: rz(3π) then rz(π) is rz(4π), the identity.
        let periodic = try OpenQASM.parse(header + "qreg q[1];\nrz(3*pi) q[0];\nrz(pi) q[0];\n")
        #expect(Compiler.optimize(periodic).after.gates == 0)
    }

    @Test("optimized random circuits keep their state and never grow", arguments: [UInt64(5), 6, 7, 8])
    func optimizerEquivalence(seed: UInt64) throws {
        // A gate set with many inverse pairs and mergeable rotations, so the rewrites actually fire.
        let gates: [StandardGate] = [.h, .x, .s, .sdg, .t, .tdg, .cx, .cz, .rz, .rx, .cp, .rzz, .swap, .sx, .sxdg]
        let original = randomCircuit(qubits: 3, gates: 200, seed: seed, allowedGates: gates)
        let result = Compiler.optimize(original)
        #expect(result.after.gates < result.before.gates)
        #expect(equalUpToGlobalPhase(Reference.statevector(result.circuit), Reference.statevector(original), tolerance: 1e-9))
    }

    @Test("single-qubit synthesis recipes reproduce arbitrary unitaries", arguments: [
        Set(["u3"]), ["rz", "ry"], ["rz", "rx"], ["rz", "sx"], ["p", "sx"], ["u1", "h"],
    ])
    func synthesis(basis: Set<String>) throws {
        let synthesis = OneQubitSynthesis(basis: basis)
        var random = TestRandom(seed: 99)
        for _ in 0 ..< 20 {
            let matrix = StandardGate.u3.matrix([random.angle(), random.angle(), random.angle()])
            let gates = try #require(synthesis.synthesize(matrix, on: 0))
            #expect(gates.allSatisfy { basis.contains($0.gate.name) })
            var product = StandardGate.identity(dimension: 2)
            for gate in gates { product = multiply2(gate.matrix, product) }
            #expect(equalUpToGlobalPhase(product, matrix, tolerance: 1e-10))
        }
        #expect(synthesis.synthesize(StandardGate.identity(dimension: 2), on: 0) == [])
    }
}

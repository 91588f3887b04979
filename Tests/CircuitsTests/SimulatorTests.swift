import Synchronization
import Testing
@testable import Circuits

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts calls of a stop hook from any thread.
private final class CallCounter: Sendable {
    let calls = Atomic<Int>(0)

    func next() -> Int { calls.wrappingAdd(1, ordering: .relaxed).newValue }
}

@Suite("State-vector simulator")
struct SimulatorTests {
    @Test("Bell and GHZ states have the textbook amplitudes")
    func bellAndGHZ() throws {
        let r = 1 / 2.0.squareRoot()
        let bell = try Simulator().statevector(OpenQASM.parse(header + "qreg q[2];\nh q[0];\ncx q[0],q[1];\n"))
        #expect(zip(bell, [Complex(r), .zero, .zero, Complex(r)]).allSatisfy { $0.isClose(to: $1, tolerance: 1e-15) })
        let ghz = try Simulator().statevector(OpenQASM.parse(header + "qreg q[5];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\ncx q[2],q[3];\ncx q[3],q[4];\n"))
        for (index, amplitude) in ghz.enumerated() {
            #expect(amplitude.isClose(to: index == 0 || index == 31 ? Complex(r) : .zero, tolerance: 1e-15))
        }
    }

    @Test("large random circuits (tiles, high qubits, fusion, relabelled swaps) match the naive reference",
          arguments: [(16, UInt64(1)), (16, UInt64(2)), (17, UInt64(3))])
    func randomCircuitsMatchReference(qubits: Int, seed: UInt64) throws {
        let circuit = randomCircuit(qubits: qubits, gates: 120, seed: seed)
        let actual = try Simulator(options: SimulationOptions(threads: 2)).statevector(circuit)
        let expected = Reference.statevector(circuit)
        #expect(equalUpToGlobalPhase(actual, expected, tolerance: 1e-10))
    }

    @Test("a QFT's controlled-phase ladders (phase-polynomial sweeps) match the reference")
    func qftMatchesReference() throws {
        let qubits = 16
        var circuit = Circuit(qubits: qubits)
        var random = TestRandom(seed: 9)
        for qubit in 0 ..< qubits { circuit.append(.u3, [random.angle(), random.angle(), random.angle()], on: qubit) }
        for target in (0 ..< qubits).reversed() {
            circuit.append(.h, on: target)
            for control in (0 ..< target).reversed() {
                circuit.append(.cu1, [.pi / Double(1 << (target - control))], on: control, target)
            }
            circuit.append(.rzz, [0.3], on: target, (target + 5) % qubits)
        }
        for qubit in 0 ..< qubits / 2 { circuit.append(.swap, on: qubit, qubits - 1 - qubit) }
        let actual = try Simulator().statevector(circuit)
        #expect(equalUpToGlobalPhase(actual, Reference.statevector(circuit), tolerance: 1e-10))
    }

    @Test("SWAPs written as three CX gates give the same state as real SWAPs")
    func swapPatterns() throws {
        let written = try OpenQASM.parse(header + "qreg q[3];\nu3(0.3,0.2,0.1) q[0];\nh q[2];\ncx q[0],q[2];\ncx q[2],q[0];\nh q[1];\ncx q[0],q[2];\nrx(0.4) q[0];\n")
        var reference = written
        reference.replaceInstructions(written.instructions.filter {
            if case .gate(let gate) = $0.operation { return gate.gate != .cx }
            return true
        })
        reference.replaceInstructions(Array(reference.instructions[..<2]) + [Instruction(.gate(GateApplication(.swap, qubits: [0, 2])))]
                                      + Array(reference.instructions[2...]))
        #expect(equalUpToGlobalPhase(try Simulator().statevector(written), Reference.statevector(reference)))
    }

    @Test("the same seed gives the same counts; another seed other counts")
    func reproducibility() throws {
        let circuit = try OpenQASM.parse(header + "qreg q[8];\ncreg c[8];\nh q;\nrx(0.3) q[2];\ncx q[2],q[5];\nmeasure q -> c;\n")
        let first = try Simulator().run(circuit, shots: 4000, seed: 42)
        let second = try Simulator().run(circuit, shots: 4000, seed: 42)
        let other = try Simulator().run(circuit, shots: 4000, seed: 43)
        #expect(first.counts == second.counts)
        #expect(first.counts != other.counts)
        #expect(first.counts.values.reduce(0, +) == 4000)
        #expect(first.method == .finalState)
    }

    @Test("counts and states do not depend on the thread count")
    func threadIndependence() throws {
        var circuit = randomCircuit(qubits: 17, gates: 150, seed: 77)
        let register = circuit.addClassicalRegister(name: "c", size: 17)
        for qubit in 0 ..< 17 { circuit.append(.measure(qubit: qubit, clbit: register.lowerBound + qubit)) }
        let one = Simulator(options: SimulationOptions(threads: 1))
        let two = Simulator(options: SimulationOptions(threads: 2))
        #expect(try one.statevector(circuit) == two.statevector(circuit))
        #expect(try one.run(circuit, shots: 3000, seed: 5).counts == two.run(circuit, shots: 3000, seed: 5).counts)
    }

    @Test("circuits above the qubit limit are refused at once, before any allocation")
    func qubitLimit() throws {
        let circuit = try OpenQASM.parse(header + "qreg q[40];\nh q;\n")
        // 2^40 amplitudes would be 16 TiB: reaching the allocation would crash the test, not fail it.
        #expect(throws: SimulationError.tooManyQubits(qubits: 40, limit: 28)) {
            try Simulator().run(circuit, shots: 10, seed: 1)
        }
        let small = Simulator(options: SimulationOptions(maxQubits: 3))
        #expect(throws: SimulationError.tooManyQubits(qubits: 4, limit: 3)) {
            try small.probabilities(OpenQASM.parse(header + "qreg q[4];\n"))
        }
        #expect(throws: SimulationError.invalidShots(0)) { try Simulator().run(Circuit(qubits: 1), shots: 0, seed: 1) }
    }

    @Test("counts keys: highest clbit left, registers separated, last declared first, unwritten bits 0")
    func keyOrdering() throws {
        let circuit = try OpenQASM.parse(header + """
            qreg q[3];
            creg a[2];
            creg b[1];
            creg d[3];
            x q[0];
            x q[2];
            measure q[0] -> d[2];
            measure q[1] -> a[0];
            measure q[2] -> b[0];
            """)
        let result = try Simulator().run(circuit, shots: 50, seed: 3)
        #expect(result.counts == ["100 1 00": 50])
        #expect(try Simulator().probabilities(circuit).probabilities == ["100 1 00": 1])
    }

    @Test("exact probabilities: marginals over measured qubits, last write to a clbit wins")
    func probabilities() throws {
        let circuit = try OpenQASM.parse(header + """
            qreg q[3];
            creg c[2];
            h q[0];
            ry(1.2) q[1];
            h q[2];
            measure q[0] -> c[0];
            measure q[1] -> c[0];
            measure q[2] -> c[1];
            """)
        let probabilities = try Simulator().probabilities(circuit).probabilities
        let one = 0.5 - 0.5 * cos(1.2)
        #expect(probabilities.count == 4)
        #expect(abs(probabilities["01"]! - one / 2) < 1e-15)
        #expect(abs(probabilities["00"]! - (1 - one) / 2) < 1e-15)
        #expect(abs(probabilities["11"]! - one / 2) < 1e-15)
    }

    @Test("exact probabilities are refused for mid-circuit measurement, reset and if")
    func probabilitiesNeedEndMeasurement() throws {
        for body in ["measure q[0] -> c[0];\nx q[0];\n", "reset q[0];\n", "if (c == 1) x q[0];\n"] {
            let circuit = try OpenQASM.parse(header + "qreg q[1];\ncreg c[1];\n" + body)
            #expect(throws: SimulationError.self) { try Simulator().probabilities(circuit) }
        }
    }

    @Test("mid-circuit measurement feeds if: outcomes are perfectly correlated")
    func measureThenCondition() throws {
        let circuit = try OpenQASM.parse(header + """
            qreg q[2];
            creg c[1];
            creg d[1];
            h q[0];
            measure q[0] -> c[0];
            if (c == 1) x q[1];
            measure q[1] -> d[0];
            """)
        let result = try Simulator().run(circuit, shots: 2000, seed: 11)
        #expect(result.method == .shotByShot)
        #expect(Set(result.counts.keys) == ["0 0", "1 1"])
        #expect(abs(Double(result.counts["1 1"]!) - 1000) < 150)
    }

    @Test("reset returns a qubit to |0> whatever it held, and clbits can be reused")
    func resetAndReuse() throws {
        let circuit = try OpenQASM.parse(header + """
            qreg q[2];
            creg c[2];
            h q[0];
            measure q[0] -> c[0];
            reset q[0];
            measure q[0] -> c[1];
            x q[1];
            measure q[1] -> c[0];
            """)
        let result = try Simulator().run(circuit, shots: 500, seed: 2)
        #expect(result.counts == ["01": 500])
    }

    @Test("conditions compare the whole register value")
    func multiBitCondition() throws {
        let circuit = try OpenQASM.parse(header + """
            qreg q[3];
            creg c[2];
            creg out[1];
            x q[1];
            measure q[0] -> c[0];
            measure q[1] -> c[1];
            if (c == 2) x q[2];
            if (c == 1) h q[2];
            measure q[2] -> out[0];
            """)
        #expect(try Simulator().run(circuit, shots: 100, seed: 8).counts == ["1 10": 100])
    }

    @Test("shot-by-shot sampling follows the exact branch probabilities")
    func shotByShotStatistics() throws {
        let circuit = try OpenQASM.parse(header + """
            qreg q[2];
            creg c[1];
            creg d[2];
            ry(1.1) q[0];
            measure q[0] -> c[0];
            if (c == 0) h q[1];
            cx q[0], q[1];
            measure q -> d;
            """)
        let shots = 20000
        let counts = try Simulator().run(circuit, shots: shots, seed: 21).counts
        let p1 = 0.5 - 0.5 * cos(1.1)
        // c=1: q0=1, q1 flipped to 1 -> "11 1"; c=0: q1 random -> "00 0" or "10 0".
        let expected = ["11 1": p1, "00 0": (1 - p1) / 2, "10 0": (1 - p1) / 2]
        #expect(Set(counts.keys) == Set(expected.keys))
        for (key, probability) in expected {
            #expect(abs(Double(counts[key] ?? 0) / Double(shots) - probability) < 0.02, "\(key)")
        }
    }

    @Test("without a cached prefix state, shots re-simulate the prefix and give the same counts")
    func uncachedPrefix() throws {
        let circuit = try OpenQASM.parse(header + "qreg q[3];\ncreg c[3];\nh q[0];\nh q[2];\nmeasure q[0] -> c[0];\nif (c == 1) x q[1];\nmeasure q -> c;\n")
        let cached = try Simulator().run(circuit, shots: 300, seed: 4)
        let recomputed = try SimulationProgram(circuit).run(shots: 300, seed: 4, options: SimulationOptions(), cachePrefix: false)
        #expect(recomputed.counts == cached.counts)
        // q1 is flipped exactly when q0 read 1: the middle bit always equals the last one.
        #expect(cached.counts.count == 4)
        #expect(cached.counts.keys.allSatisfy { Array($0)[1] == Array($0)[2] })
    }

    @Test("a long run stops at the first check of its stop hook that says so")
    func cancellation() throws {
        let circuit = randomCircuit(qubits: 20, gates: 4000, seed: 4)
        let counter = CallCounter()
        let simulator = Simulator(options: SimulationOptions(shouldStop: { counter.next() > 3 }))
        #expect(throws: SimulationError.stopped) { try simulator.run(circuit, shots: 10, seed: 1) }
        // The run stopped at the first check that said so: the fourth.
        #expect(counter.calls.load(ordering: .relaxed) == 4)

        let midCircuit = try OpenQASM.parse(header + "qreg q[2];\ncreg c[2];\nh q[0];\nmeasure q[0] -> c[0];\nif (c == 1) x q[1];\nmeasure q[1] -> c[1];\n")
        let shotCounter = CallCounter()
        let stopping = Simulator(options: SimulationOptions(shouldStop: { shotCounter.next() > 100 }))
        #expect(throws: SimulationError.stopped) { try stopping.run(midCircuit, shots: 10_000_000, seed: 1) }
    }

    @Test("unmeasured classical bits read 0 and circuits without measurements give all-zero keys")
    func unmeasured() throws {
        let circuit = try OpenQASM.parse(header + "qreg q[2];\ncreg c[3];\nx q;\nmeasure q[1] -> c[2];\n")
        #expect(try Simulator().run(circuit, shots: 10, seed: 1).counts == ["100": 10])
        let silent = try OpenQASM.parse(header + "qreg q[1];\ncreg c[2];\nh q[0];\n")
        #expect(try Simulator().run(silent, shots: 10, seed: 1).counts == ["00": 10])
    }
}

import Testing
@testable import Circuits

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Gate matrices")
struct GateMatrixTests {
    private static let angles: [Double] = [0.3, -1.1, 2.4, 0.7]

    @Test("every gate's closed form equals its qelib1.inc definition built from U and CX", arguments: StandardGate.allCases)
    func matchesDefinition(gate: StandardGate) {
        let parameters = Array(Self.angles.prefix(gate.parameterCount))
        let expected = gate == .U ? Reference.u(0.3, -1.1, 2.4)
            : gate == .CX ? Reference.cx
            : Reference.matrixFromDefinition(gate, parameters)
        #expect(equalUpToGlobalPhase(gate.matrix(parameters), expected, tolerance: 1e-12))
    }

    @Test("every matrix is unitary", arguments: StandardGate.allCases)
    func unitarity(gate: StandardGate) {
        let matrix = gate.matrix(Array(Self.angles.prefix(gate.parameterCount)))
        let dimension = 1 << gate.qubitCount
        for row in 0 ..< dimension {
            for column in 0 ..< dimension {
                var sum = Complex.zero
                for k in 0 ..< dimension { sum += matrix[row * dimension + k] * matrix[column * dimension + k].conjugate }
                #expect(sum.isClose(to: row == column ? .one : .zero, tolerance: 1e-12))
            }
        }
    }

    @Test("textbook matrices, exactly including phase")
    func textbook() {
        let r = 1 / 2.0.squareRoot()
        let i = Complex.i
        #expect(StandardGate.x.matrix([]) == [.zero, .one, .one, .zero])
        #expect(StandardGate.y.matrix([]) == [.zero, -i, i, .zero])
        #expect(StandardGate.z.matrix([]) == [.one, .zero, .zero, -Complex.one])
        #expect(StandardGate.h.matrix([]).map { $0.real } == [r, r, r, -r])
        #expect(StandardGate.s.matrix([]) == [.one, .zero, .zero, i])
        #expect(equalUpToGlobalPhase(StandardGate.t.matrix([]), [.one, .zero, .zero, Complex(r, r)], tolerance: 1e-15))
        #expect(StandardGate.cx.matrix([]) == Reference.permutation([0, 3, 2, 1]))
        #expect(StandardGate.swap.matrix([]) == Reference.permutation([0, 2, 1, 3]))
        #expect(StandardGate.ccx.matrix([]) == Reference.permutation([0, 1, 2, 7, 4, 5, 6, 3]))
        #expect(StandardGate.cswap.matrix([]) == Reference.permutation([0, 1, 2, 5, 4, 3, 6, 7]))
        #expect(StandardGate.c4x.matrix([]) == Reference.permutation((0 ..< 32).map { $0 & 15 == 15 ? $0 ^ 16 : $0 }))
        #expect(StandardGate.cz.matrix([]) == Reference.diagonal([.one, .one, .one, -Complex.one]))
        let theta = 0.9
        #expect(StandardGate.rzz.matrix([theta]) == Reference.diagonal([
            .phase(-theta / 2), .phase(theta / 2), .phase(theta / 2), .phase(-theta / 2)]))
        #expect(StandardGate.cp.matrix([theta]) == Reference.diagonal([.one, .one, .one, .phase(theta)]))
        let c = cos(theta / 2), s = sin(theta / 2)
        #expect(StandardGate.ry.matrix([theta]) == [Complex(c), Complex(-s), Complex(s), Complex(c)])
        #expect(StandardGate.rx.matrix([theta]) == [Complex(c), Complex(0, -s), Complex(0, -s), Complex(c)])
    }

    @Test("the simulator applies every gate like the reference, on every operand order", arguments: StandardGate.allCases)
    func simulatorAppliesGate(gate: StandardGate) throws {
        let qubitCount = 6
        var random = TestRandom(seed: UInt64(gate.name.utf8.reduce(0) { $0 * 31 + Int($1) }))
        for _ in 0 ..< 3 {
            // A random entangled starting state from U and CX only, so the reference needs nothing
            // from the library but the gate under test.
            var circuit = Circuit(qubits: qubitCount)
            var expected = [Complex](repeating: .zero, count: 1 << qubitCount)
            expected[0] = .one
            for qubit in 0 ..< qubitCount {
                let (a, b, c) = (random.angle(), random.angle(), random.angle())
                circuit.append(.U, [a, b, c], on: qubit)
                Reference.apply(Reference.u(a, b, c), to: [qubit], of: &expected)
                if qubit > 0 {
                    circuit.append(.CX, on: qubit - 1, qubit)
                    Reference.apply(Reference.cx, to: [qubit - 1, qubit], of: &expected)
                }
            }
            let parameters = (0 ..< gate.parameterCount).map { _ in random.angle() }
            let operands = random.qubits(gate.qubitCount, of: qubitCount)
            circuit.append(.gate(GateApplication(gate, parameters, qubits: operands)))
            let matrix = gate == .U ? Reference.u(parameters[0], parameters[1], parameters[2])
                : gate == .CX ? Reference.cx : Reference.matrixFromDefinition(gate, parameters)
            Reference.apply(matrix, to: operands, of: &expected)
            let actual = try Simulator().statevector(circuit)
            #expect(equalUpToGlobalPhase(actual, expected, tolerance: 1e-10), "\(gate.name) on \(operands)")
        }
    }
}

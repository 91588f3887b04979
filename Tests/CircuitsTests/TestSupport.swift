import Testing
@testable import Circuits

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Test-side linear algebra and a naive state-vector simulator, written independently of the
/// library's kernels so the tests check the library against something else.
enum Reference {
    /// `U(θ,φ,λ)` from the OpenQASM 2 specification (Qiskit's phase convention).
    static func u(_ theta: Double, _ phi: Double, _ lambda: Double) -> [Complex] {
        let c = cos(theta / 2), s = sin(theta / 2)
        return [Complex(c, 0), Complex(-cos(lambda) * s, -sin(lambda) * s),
                Complex(cos(phi) * s, sin(phi) * s), Complex(cos(phi + lambda) * c, sin(phi + lambda) * c)]
    }

    /// CX with operand 0 (index bit 0) as control.
    static let cx: [Complex] = permutation([0, 3, 2, 1])

    /// The matrix of a permutation: column `j` has its 1 in row `images[j]`.
    static func permutation(_ images: [Int]) -> [Complex] {
        let dimension = images.count
        var matrix = [Complex](repeating: .zero, count: dimension * dimension)
        for (column, row) in images.enumerated() { matrix[row * dimension + column] = .one }
        return matrix
    }

    static func diagonal(_ entries: [Complex]) -> [Complex] {
        let dimension = entries.count
        var matrix = [Complex](repeating: .zero, count: dimension * dimension)
        for (index, entry) in entries.enumerated() { matrix[index * dimension + index] = entry }
        return matrix
    }

    /// Applies a `2^k × 2^k` matrix to `qubits` of `state` (operand j is matrix index bit j).
    static func apply(_ matrix: [Complex], to qubits: [Int], of state: inout [Complex]) {
        let dimension = 1 << qubits.count
        let mask = qubits.reduce(0) { $0 | (1 << $1) }
        for base in 0 ..< state.count where base & mask == 0 {
            var indices = [Int](repeating: base, count: dimension)
            for local in 0 ..< dimension {
                for (bit, qubit) in qubits.enumerated() where local & (1 << bit) != 0 { indices[local] |= 1 << qubit }
            }
            let input = indices.map { state[$0] }
            for row in 0 ..< dimension {
                var sum = Complex.zero
                for column in 0 ..< dimension { sum += matrix[row * dimension + column] * input[column] }
                state[indices[row]] = sum
            }
        }
    }

    /// The unitary of a gate sequence on `qubitCount` qubits, built column by column.
    static func unitary(qubitCount: Int, _ steps: [(matrix: [Complex], qubits: [Int])]) -> [Complex] {
        let dimension = 1 << qubitCount
        var matrix = [Complex](repeating: .zero, count: dimension * dimension)
        for column in 0 ..< dimension {
            var state = [Complex](repeating: .zero, count: dimension)
            state[column] = .one
            for step in steps { apply(step.matrix, to: step.qubits, of: &state) }
            for row in 0 ..< dimension { matrix[row * dimension + column] = state[row] }
        }
        return matrix
    }

    /// A gate's matrix from its `qelib1.inc` definition, expanded down to `U` and `CX`, whose
    /// matrices come from this file: an independent check of the library's closed forms.
    static func matrixFromDefinition(_ gate: StandardGate, _ parameters: [Double]) -> [Complex] {
        let application = GateApplication(gate, parameters, qubits: Array(0 ..< gate.qubitCount))
        return unitary(qubitCount: gate.qubitCount, primitives(application))
    }

    static func primitives(_ application: GateApplication) -> [(matrix: [Complex], qubits: [Int])] {
        switch application.gate {
        case .U:
            return [(u(application.parameters[0], application.parameters[1], application.parameters[2]), application.qubits)]
        case .CX:
            return [(cx, application.qubits)]
        default:
            return GateLibrary.decompose(application)!.flatMap(primitives)
        }
    }

    /// Simulates a circuit's gates (measurements ignored) with library matrices but naive kernels.
    static func statevector(_ circuit: Circuit) -> [Complex] {
        var state = [Complex](repeating: .zero, count: 1 << circuit.qubitCount)
        state[0] = .one
        for instruction in circuit.instructions {
            if case .gate(let gate) = instruction.operation { apply(gate.matrix, to: gate.qubits, of: &state) }
        }
        return state
    }
}

/// Whether two vectors (or matrices) are equal up to one global phase factor.
func equalUpToGlobalPhase(_ a: [Complex], _ b: [Complex], tolerance: Double = 1e-9) -> Bool {
    guard a.count == b.count, let pivot = b.indices.max(by: { b[$0].magnitude < b[$1].magnitude }) else { return false }
    guard b[pivot].magnitude > tolerance else { return a.allSatisfy { $0.magnitude < tolerance } }
    let ratio = a[pivot] * b[pivot].conjugate / b[pivot].magnitudeSquared
    guard abs(ratio.magnitude - 1) < tolerance else { return false }
    return zip(a, b).allSatisfy { $0.0.isClose(to: ratio * $0.1, tolerance: tolerance) }
}

/// A small seeded generator so random tests are reproducible.
struct TestRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func angle() -> Double { Double(next() >> 11) * 0x1.0p-53 * 4 * .pi - 2 * .pi }

    /// `count` distinct qubits out of `qubitCount`.
    mutating func qubits(_ count: Int, of qubitCount: Int) -> [Int] {
        var pool = Array(0 ..< qubitCount)
        var chosen: [Int] = []
        for _ in 0 ..< count { chosen.append(pool.remove(at: int(pool.count))) }
        return chosen
    }
}

/// A random circuit over every standard gate that fits, without measurements.
func randomCircuit(qubits: Int, gates: Int, seed: UInt64, allowedGates: [StandardGate] = StandardGate.allCases) -> Circuit {
    var random = TestRandom(seed: seed)
    var circuit = Circuit(qubits: qubits)
    let usable = allowedGates.filter { $0.qubitCount <= qubits }
    for _ in 0 ..< gates {
        let gate = usable[random.int(usable.count)]
        let parameters = (0 ..< gate.parameterCount).map { _ in random.angle() }
        circuit.append(.gate(GateApplication(gate, parameters, qubits: random.qubits(gate.qubitCount, of: qubits))))
    }
    return circuit
}

/// The diagnostics of a program that must fail to parse (empty if it parsed).
func diagnostics(_ source: String, limits: ParseLimits = ParseLimits()) -> [Diagnostic] {
    do {
        _ = try OpenQASM.parse(source, limits: limits)
        return []
    } catch {
        return error.diagnostics
    }
}

let header = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\n"

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A gate of OpenQASM 2's builtins (`U`, `CX`) or of Qiskit's `qelib1.inc`.
///
/// The raw value is the name a program uses. Matrices follow Qiskit's convention: operand 0 is the
/// least significant bit of a matrix index, so `cx a,b` has `a` as bit 0.
public enum StandardGate: String, Sendable, Hashable, CaseIterable, Codable {
    case U, CX
    case u3, u2, u1, cx, id, u0, u, p
    case x, y, z, h, s, sdg, t, tdg
    case rx, ry, rz, sx, sxdg
    case cz, cy, swap, ch, ccx, cswap
    case crx, cry, crz, cu1, cp, cu3, csx, cu
    case rxx, rzz, rccx, rc3x, c3x, c3sqrtx, c4x

    /// Looks a gate up by the name a program uses; `c3sx` (Qiskit's own name) means `c3sqrtx`.
    public init?(name: String) {
        if name == "c3sx" {
            self = .c3sqrtx
        } else {
            self.init(rawValue: name)
        }
    }

    /// The name used in OpenQASM programs and in gate counts.
    public var name: String { rawValue }

    /// The number of real parameters the gate takes.
    public var parameterCount: Int {
        switch self {
        case .U, .u3, .u, .cu3: 3
        case .cu: 4
        case .u2: 2
        case .u1, .u0, .p, .rx, .ry, .rz, .crx, .cry, .crz, .cu1, .cp, .rxx, .rzz: 1
        default: 0
        }
    }

    /// The number of qubits the gate acts on.
    public var qubitCount: Int {
        switch self {
        case .CX, .cx, .cz, .cy, .swap, .ch, .crx, .cry, .crz, .cu1, .cp, .cu3, .csx, .cu, .rxx, .rzz: 2
        case .ccx, .cswap, .rccx: 3
        case .rc3x, .c3x, .c3sqrtx: 4
        case .c4x: 5
        default: 1
        }
    }

    /// Whether the gate is one of the 23 gates of the original (2017) `qelib1.inc` or a builtin.
    ///
    /// `qiskit.qasm2.loads` accepts exactly these without extra options; the others need
    /// Qiskit's `LEGACY_CUSTOM_INSTRUCTIONS`.
    public var isInOriginalLibrary: Bool {
        switch self {
        case .U, .CX, .u3, .u2, .u1, .cx, .id, .x, .y, .z, .h, .s, .sdg, .t, .tdg,
             .rx, .ry, .rz, .cz, .cy, .ch, .ccx, .crz, .cu1, .cu3:
            true
        default:
            false
        }
    }

    /// Whether the matrix is diagonal for every parameter value.
    public var isDiagonal: Bool {
        switch self {
        case .u1, .p, .z, .s, .sdg, .t, .tdg, .rz, .id, .u0, .cz, .crz, .cu1, .cp, .rzz: true
        default: false
        }
    }

    /// The unitary matrix for the given parameters, row-major, dimension `2^qubitCount`.
    public func matrix(_ parameters: [Double]) -> [Complex] {
        precondition(parameters.count == parameterCount, "\(name) takes \(parameterCount) parameters")
        return structure(parameters).fullMatrix(qubitCount: qubitCount)
    }

    /// How the simulator should apply the gate: the cheapest exact description of its matrix.
    func structure(_ parameters: [Double]) -> GateStructure {
        let one = Complex.one
        switch self {
        case .id, .u0:
            return .identity
        case .U, .u3, .u:
            return .controlled(controls: 0, target: Self.uMatrix(parameters[0], parameters[1], parameters[2]))
        case .u2:
            return .controlled(controls: 0, target: Self.uMatrix(.pi / 2, parameters[0], parameters[1]))
        case .u1, .p:
            return .diagonal([one, .phase(parameters[0])])
        case .x:
            return .controlled(controls: 0, target: Self.pauliX)
        case .y:
            return .controlled(controls: 0, target: Self.pauliY)
        case .z:
            return .diagonal([one, -one])
        case .h:
            return .controlled(controls: 0, target: Self.hadamard)
        case .s:
            return .diagonal([one, .i])
        case .sdg:
            return .diagonal([one, -Complex.i])
        case .t:
            return .diagonal([one, .phase(.pi / 4)])
        case .tdg:
            return .diagonal([one, .phase(-.pi / 4)])
        case .rx:
            return .controlled(controls: 0, target: Self.rxMatrix(parameters[0]))
        case .ry:
            return .controlled(controls: 0, target: Self.ryMatrix(parameters[0]))
        case .rz:
            return .diagonal([.phase(-parameters[0] / 2), .phase(parameters[0] / 2)])
        case .sx:
            return .controlled(controls: 0, target: Self.sqrtX)
        case .sxdg:
            return .controlled(controls: 0, target: Self.sqrtX.map(\.conjugate))
        case .CX, .cx:
            return .controlled(controls: 1, target: Self.pauliX)
        case .cz:
            return .diagonal([one, one, one, -one])
        case .cy:
            return .controlled(controls: 1, target: Self.pauliY)
        case .swap:
            return .swap
        case .ch:
            return .controlled(controls: 1, target: Self.hadamard)
        case .ccx:
            return .controlled(controls: 2, target: Self.pauliX)
        case .cswap:
            return .controlled(controls: 1, target: Self.swapMatrix)
        case .crx:
            return .controlled(controls: 1, target: Self.rxMatrix(parameters[0]))
        case .cry:
            return .controlled(controls: 1, target: Self.ryMatrix(parameters[0]))
        case .crz:
            let half = parameters[0] / 2
            return .diagonal([one, .phase(-half), one, .phase(half)])
        case .cu1, .cp:
            return .diagonal([one, one, one, .phase(parameters[0])])
        case .cu3:
            return .controlled(controls: 1, target: Self.uMatrix(parameters[0], parameters[1], parameters[2]))
        case .csx:
            return .controlled(controls: 1, target: Self.sqrtX)
        case .cu:
            let global = Complex.phase(parameters[3])
            return .controlled(controls: 1, target: Self.uMatrix(parameters[0], parameters[1], parameters[2]).map { global * $0 })
        case .rxx:
            let c = Complex(cos(parameters[0] / 2)), s = Complex(0, -sin(parameters[0] / 2))
            let zero = Complex.zero
            return .dense([c, zero, zero, s,
                           zero, c, s, zero,
                           zero, s, c, zero,
                           s, zero, zero, c])
        case .rzz:
            let even = Complex.phase(-parameters[0] / 2), odd = Complex.phase(parameters[0] / 2)
            return .diagonal([even, odd, odd, even])
        case .rccx:
            var matrix = Self.identity(dimension: 8)
            matrix[3 * 8 + 3] = .zero
            matrix[7 * 8 + 7] = .zero
            matrix[3 * 8 + 7] = -Complex.i
            matrix[7 * 8 + 3] = .i
            matrix[5 * 8 + 5] = -one
            return .dense(matrix)
        case .rc3x:
            var matrix = Self.identity(dimension: 16)
            matrix[3 * 16 + 3] = .i
            matrix[11 * 16 + 11] = -Complex.i
            matrix[7 * 16 + 7] = .zero
            matrix[15 * 16 + 15] = .zero
            matrix[7 * 16 + 15] = one
            matrix[15 * 16 + 7] = -one
            return .dense(matrix)
        case .c3x:
            return .controlled(controls: 3, target: Self.pauliX)
        case .c3sqrtx:
            return .controlled(controls: 3, target: Self.sqrtX)
        case .c4x:
            return .controlled(controls: 4, target: Self.pauliX)
        }
    }

    /// `U(θ,φ,λ)` exactly as Qiskit's `UGate`: `[[cos, -e^{iλ} sin], [e^{iφ} sin, e^{i(φ+λ)} cos]]` of θ/2.
    static func uMatrix(_ theta: Double, _ phi: Double, _ lambda: Double) -> [Complex] {
        let c = cos(theta / 2), s = sin(theta / 2)
        return [Complex(c), -(s * Complex.phase(lambda)),
                s * Complex.phase(phi), c * Complex.phase(phi + lambda)]
    }

    static func rxMatrix(_ theta: Double) -> [Complex] {
        let c = Complex(cos(theta / 2)), s = Complex(0, -sin(theta / 2))
        return [c, s, s, c]
    }

    static func ryMatrix(_ theta: Double) -> [Complex] {
        let c = Complex(cos(theta / 2)), s = sin(theta / 2)
        return [c, Complex(-s), Complex(s), c]
    }

    static let pauliX: [Complex] = [.zero, .one, .one, .zero]
    static let pauliY: [Complex] = [.zero, -Complex.i, .i, .zero]
    static let hadamard: [Complex] = {
        let r = Complex(1 / 2.0.squareRoot())
        return [r, r, r, -r]
    }()
    static let sqrtX: [Complex] = [Complex(0.5, 0.5), Complex(0.5, -0.5), Complex(0.5, -0.5), Complex(0.5, 0.5)]
    static let swapMatrix: [Complex] = [.one, .zero, .zero, .zero,
                                        .zero, .zero, .one, .zero,
                                        .zero, .one, .zero, .zero,
                                        .zero, .zero, .zero, .one]

    static func identity(dimension: Int) -> [Complex] {
        var matrix = [Complex](repeating: .zero, count: dimension * dimension)
        for index in 0 ..< dimension { matrix[index * dimension + index] = .one }
        return matrix
    }
}

/// The shape of a gate's matrix, which decides the kernel that applies it.
enum GateStructure: Sendable {
    /// Does nothing.
    case identity
    /// A diagonal matrix over all operands (entries indexed like the full matrix).
    case diagonal([Complex])
    /// The first `controls` operands must all be 1; then `target` acts on the remaining operands.
    case controlled(controls: Int, target: [Complex])
    /// Exchanges its two operands.
    case swap
    /// A general dense matrix over all operands.
    case dense([Complex])

    /// Expands the description into the full row-major matrix over `qubitCount` operands.
    func fullMatrix(qubitCount: Int) -> [Complex] {
        let dimension = 1 << qubitCount
        switch self {
        case .identity:
            return StandardGate.identity(dimension: dimension)
        case .diagonal(let entries):
            var matrix = [Complex](repeating: .zero, count: dimension * dimension)
            for index in 0 ..< dimension { matrix[index * dimension + index] = entries[index] }
            return matrix
        case .swap:
            return StandardGate.swapMatrix
        case .dense(let matrix):
            return matrix
        case .controlled(let controls, let target):
            let controlMask = (1 << controls) - 1
            let targetDimension = dimension >> controls
            var matrix = [Complex](repeating: .zero, count: dimension * dimension)
            for row in 0 ..< dimension {
                if row & controlMask != controlMask {
                    matrix[row * dimension + row] = .one
                    continue
                }
                let targetRow = row >> controls
                for targetColumn in 0 ..< targetDimension {
                    let column = (targetColumn << controls) | controlMask
                    matrix[row * dimension + column] = target[targetRow * targetDimension + targetColumn]
                }
            }
            return matrix
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes any single-qubit unitary with the gates of a target basis, up to global phase.
///
/// The matrix is first reduced to Euler angles `U(θ, φ, λ)`; the basis then decides the spelling:
/// one `u3`/`u`/`U`, or `rz·ry·rz`, `rz·rx·rz`, `rz·sx·rz·sx·rz`, or `rz·h·rz·h·rz` (where
/// `rz` may be `p` or `u1`, which differ from it only by global phase).
struct OneQubitSynthesis: Sendable {
    private enum Recipe {
        case general(StandardGate)
        case zyz(z: StandardGate)
        case zxz(z: StandardGate)
        case zsx(z: StandardGate)
        case zh(z: StandardGate)
    }

    private let recipe: Recipe?
    private let basis: Set<String>

    init(basis: Set<String>) {
        self.basis = basis
        let z = ["rz", "p", "u1"].first { basis.contains($0) }.flatMap { StandardGate(rawValue: $0) }
        if let general = ["u3", "u", "U"].first(where: { basis.contains($0) }) {
            recipe = .general(StandardGate(rawValue: general)!)
        } else if let z, basis.contains("ry") {
            recipe = .zyz(z: z)
        } else if let z, basis.contains("rx") {
            recipe = .zxz(z: z)
        } else if let z, basis.contains("sx") {
            recipe = .zsx(z: z)
        } else if let z, basis.contains("h") {
            recipe = .zh(z: z)
        } else {
            recipe = nil
        }
    }

    /// Euler angles with `matrix = e^{iα} U(θ, φ, λ)`.
    static func eulerAngles(_ m: [Complex]) -> (theta: Double, phi: Double, lambda: Double) {
        let theta = 2 * atan2(m[2].magnitude, m[0].magnitude)
        let tolerance = 1e-12
        if m[2].magnitude < tolerance {
            // Diagonal: only φ + λ is defined.
            return (0, 0, m[3].argument - m[0].argument)
        }
        if m[0].magnitude < tolerance {
            // Anti-diagonal: only φ - λ is defined.
            return (.pi, 0, (-m[1]).argument - m[2].argument)
        }
        let alpha = m[0].argument
        return (theta, m[2].argument - alpha, (-m[1]).argument - alpha)
    }

    /// The gates (in time order) realising `matrix` on `qubit`, or nil if the basis cannot.
    func synthesize(_ matrix: [Complex], on qubit: Int) -> [GateApplication]? {
        guard let recipe else { return nil }
        let (theta, phi, lambda) = Self.eulerAngles(matrix)
        if isNegligible(theta) && isNegligible(phi + lambda) { return [] }
        func z(_ gate: StandardGate, _ angle: Double) -> [GateApplication] {
            isNegligible(angle) ? [] : [GateApplication(gate, [Self.normalized(angle)], qubits: [qubit])]
        }
        switch recipe {
        case .general(let gate):
            if isNegligible(theta), let phase = ["p", "u1", "rz"].first(where: { basis.contains($0) }) {
                return z(StandardGate(rawValue: phase)!, phi + lambda)
            }
            return [GateApplication(gate, [theta, Self.normalized(phi), Self.normalized(lambda)], qubits: [qubit])]
        case .zyz(let zGate):
            if isNegligible(theta) { return z(zGate, phi + lambda) }
            return z(zGate, lambda) + [GateApplication(.ry, [theta], qubits: [qubit])] + z(zGate, phi)
        case .zxz(let zGate):
            if isNegligible(theta) { return z(zGate, phi + lambda) }
            return z(zGate, lambda - .pi / 2) + [GateApplication(.rx, [theta], qubits: [qubit])] + z(zGate, phi + .pi / 2)
        case .zsx(let zGate):
            if isNegligible(theta) { return z(zGate, phi + lambda) }
            let sx = GateApplication(.sx, qubits: [qubit])
            return z(zGate, lambda) + [sx] + z(zGate, theta + .pi) + [sx] + z(zGate, phi + .pi)
        case .zh(let zGate):
            if isNegligible(theta) { return z(zGate, phi + lambda) }
            let h = GateApplication(.h, qubits: [qubit])
            return z(zGate, lambda - .pi / 2) + [h] + z(zGate, theta) + [h] + z(zGate, phi + .pi / 2)
        }
    }

    private func isNegligible(_ angle: Double) -> Bool {
        abs(Self.normalized(angle)) < 1e-12
    }

    /// The angle moved into (-π, π], which keeps written programs tidy and merges stable.
    static func normalized(_ angle: Double) -> Double {
        var result = angle.truncatingRemainder(dividingBy: 2 * .pi)
        if result > .pi { result -= 2 * .pi }
        if result <= -.pi { result += 2 * .pi }
        return result
    }
}

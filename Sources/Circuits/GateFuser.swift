/// A dense operation on physical qubits: `matrix` acts on `targets` where all `controls` are 1.
struct DenseOperation: Sendable {
    var controls: [Int]
    var targets: [Int]
    /// Row-major `2^t × 2^t` matrix over the targets, target 0 being index bit 0.
    var matrix: [Complex]

    var isPauliX: Bool {
        targets.count == 1 && matrix == StandardGate.pauliX
    }

    /// Estimated cost in units of a dense single-qubit gate over the whole state (measured: a
    /// controlled X moves data at about half that cost whatever its controls; controls shrink the
    /// arithmetic of other gates, but shorter runs claw part of it back).
    var estimatedCost: Double {
        if isPauliX { return 0.6 }
        let base: Double
        switch targets.count {
        case 1: base = 1
        case 2: base = 3
        default: base = Double(1 << targets.count)
        }
        return base * max(0.5, 1 / Double(1 << controls.count))
    }
}

/// One step of a fused unitary program.
enum FusedOperation: Sendable {
    case dense(DenseOperation)
    case phases(PhasePolynomial)
}

/// Rewrites a gate sequence into fewer, cheaper operations on physical qubits.
///
/// Three rewrites, each exact:
/// * SWAPs become a relabelling of logical to physical qubits and cost nothing;
/// * consecutive single-qubit gates on a qubit multiply into one matrix; a diagonal one stays
///   pending across gates that act diagonally on that qubit (controls, other diagonal gates);
/// * diagonal gates join the latest phase polynomial that they commute with.
/// The result depends only on the gate sequence, never on thread count, so runs are reproducible.
struct GateFuser {
    private(set) var operations: [FusedOperation] = []
    /// `physical[logical]`: where each logical qubit's state lives.
    private(set) var physical: [Int]
    private var pending: [[Complex]?]
    private var pendingIsDiagonal: [Bool]
    /// Index in `operations` of the last dense operation with that physical qubit as a target.
    private var lastTargetOperation: [Int]
    private var lastPhasesOperation = -1

    init(qubitCount: Int, physical: [Int]? = nil) {
        self.physical = physical ?? Array(0 ..< qubitCount)
        pending = Array(repeating: nil, count: qubitCount)
        pendingIsDiagonal = Array(repeating: false, count: qubitCount)
        lastTargetOperation = Array(repeating: -1, count: qubitCount)
    }

    /// Adds a gate on logical qubits; `allowRelabel` is false where SWAPs must really move data.
    mutating func add(_ application: GateApplication, allowRelabel: Bool = true) {
        let qubits = application.qubits.map { physical[$0] }
        switch application.gate.structure(application.parameters) {
        case .identity:
            return
        case .swap:
            if allowRelabel {
                physical.swapAt(application.qubits[0], application.qubits[1])
            } else {
                flush(qubits[0])
                flush(qubits[1])
                emitDense(DenseOperation(controls: [], targets: qubits, matrix: StandardGate.swapMatrix))
            }
        case .diagonal(let entries):
            if qubits.count == 1 {
                accumulate(qubits[0], entries.count == 2 ? [entries[0], .zero, .zero, entries[1]] : entries, isDiagonal: true)
            } else {
                for qubit in qubits where !pendingIsDiagonal[qubit] { flush(qubit) }
                emitPhases(qubits: qubits, diagonal: entries)
            }
        case .controlled(let controlCount, let target):
            if controlCount == 0 && qubits.count == 1 {
                accumulate(qubits[0], target, isDiagonal: false)
                return
            }
            let controls = Array(qubits[..<controlCount]), targets = Array(qubits[controlCount...])
            for qubit in controls where !pendingIsDiagonal[qubit] { flush(qubit) }
            for qubit in targets { flush(qubit) }
            emitDense(DenseOperation(controls: controls, targets: targets, matrix: target))
        case .dense(let matrix):
            for qubit in qubits { flush(qubit) }
            emitDense(DenseOperation(controls: [], targets: qubits, matrix: matrix))
        }
    }

    /// Emits every pending single-qubit gate; call once after the last gate.
    mutating func finish() {
        for qubit in pending.indices { flush(qubit) }
    }

    private mutating func accumulate(_ qubit: Int, _ matrix: [Complex], isDiagonal: Bool) {
        if let existing = pending[qubit] {
            pending[qubit] = multiply2(matrix, existing)
            pendingIsDiagonal[qubit] = pendingIsDiagonal[qubit] && isDiagonal
        } else {
            pending[qubit] = matrix
            pendingIsDiagonal[qubit] = isDiagonal
        }
    }

    private mutating func flush(_ qubit: Int) {
        guard let matrix = pending[qubit] else { return }
        pending[qubit] = nil
        if pendingIsDiagonal[qubit] {
            pendingIsDiagonal[qubit] = false
            if matrix[0] == .one && matrix[3] == .one { return }
            emitPhases(qubits: [qubit], diagonal: [matrix[0], matrix[3]])
            return
        }
        if isIdentity(matrix) { return }
        emitDense(DenseOperation(controls: [], targets: [qubit], matrix: matrix))
    }

    private mutating func emitDense(_ operation: DenseOperation) {
        operations.append(.dense(operation))
        for qubit in operation.targets { lastTargetOperation[qubit] = operations.count - 1 }
    }

    private mutating func emitPhases(qubits: [Int], diagonal: [Complex]) {
        let blocker = qubits.map { lastTargetOperation[$0] }.max() ?? -1
        if lastPhasesOperation > blocker, case .phases(var polynomial) = operations[lastPhasesOperation] {
            polynomial.add(qubits: qubits, diagonal: diagonal)
            operations[lastPhasesOperation] = .phases(polynomial)
            return
        }
        var polynomial = PhasePolynomial()
        polynomial.add(qubits: qubits, diagonal: diagonal)
        operations.append(.phases(polynomial))
        lastPhasesOperation = operations.count - 1
    }

    private func isIdentity(_ matrix: [Complex]) -> Bool {
        matrix[0].isClose(to: .one, tolerance: 1e-15) && matrix[3].isClose(to: .one, tolerance: 1e-15)
            && matrix[1].isClose(to: .zero, tolerance: 1e-15) && matrix[2].isClose(to: .zero, tolerance: 1e-15)
    }
}

/// The product `a · b` of two 2×2 matrices (so `b` acts first).
func multiply2(_ a: [Complex], _ b: [Complex]) -> [Complex] {
    [a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
     a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3]]
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A product of diagonal gates on one and two qubits, written as a phase polynomial.
///
/// Any diagonal unitary on at most two qubits is `exp(i(c + α·a + β·b + γ·a·b))` in the bits `a`, `b`
/// of its operands, so a whole run of them (rz, u1, p, s, t, z, cz, cu1, cp, crz, rzz, …) adds up to
/// one polynomial of degree two, applied in a single sweep over the amplitudes. This is what makes a
/// QFT's ladder of controlled phases cost about one pass instead of one pass per gate.
struct PhasePolynomial: Sendable {
    var constant: Double = 0
    /// Angle per qubit for the terms linear in that qubit's bit.
    var linear: [Int: Double] = [:]
    /// Angle per qubit pair (lower index first) for the terms in the product of both bits.
    var quadratic: [QubitPair: Double] = [:]

    struct QubitPair: Hashable, Sendable {
        var low: Int
        var high: Int

        init(_ a: Int, _ b: Int) {
            low = min(a, b)
            high = max(a, b)
        }
    }

    var isEmpty: Bool { constant == 0 && linear.isEmpty && quadratic.isEmpty }

    /// All qubits the polynomial depends on.
    var qubits: Set<Int> {
        Set(linear.keys).union(quadratic.keys.flatMap { [$0.low, $0.high] })
    }

    /// Multiplies in a diagonal gate given by its diagonal entries (operand 0 is index bit 0).
    mutating func add(qubits: [Int], diagonal: [Complex]) {
        let angles = diagonal.map(\.argument)
        switch qubits.count {
        case 1:
            constant += angles[0]
            addLinear(qubits[0], angles[1] - angles[0])
        case 2:
            constant += angles[0]
            addLinear(qubits[0], angles[1] - angles[0])
            addLinear(qubits[1], angles[2] - angles[0])
            let pairAngle = angles[3] - angles[2] - angles[1] + angles[0]
            if pairAngle != 0 { quadratic[QubitPair(qubits[0], qubits[1]), default: 0] += pairAngle }
        default:
            preconditionFailure("phase polynomials hold gates on one or two qubits")
        }
    }

    private mutating func addLinear(_ qubit: Int, _ angle: Double) {
        if angle != 0 { linear[qubit, default: 0] += angle }
    }
}

/// A phase polynomial prepared for one tile layout: terms as arrays, with local bit positions.
struct CompiledPhases: Sendable {
    struct Term: Sendable {
        /// Local bit position, or -1 when the qubit is outside the tile.
        var local: Int
        /// Global index bit mask of the qubit, used when it is outside the tile.
        var globalMask: Int
        var angle: Double
    }

    struct PairTerm: Sendable {
        var first: Term
        var second: Term
    }

    var constant: Double
    var linear: [Term]
    var quadratic: [PairTerm]

    init(_ polynomial: PhasePolynomial, localPosition: (Int) -> Int) {
        constant = polynomial.constant
        func term(_ qubit: Int, _ angle: Double) -> Term {
            Term(local: localPosition(qubit), globalMask: 1 << qubit, angle: angle)
        }
        // Sorted so that the arithmetic, and so the result, does not depend on dictionary order.
        linear = polynomial.linear.sorted { $0.key < $1.key }.map { term($0.key, $0.value) }
        quadratic = polynomial.quadratic.sorted { ($0.key.low, $0.key.high) < ($1.key.low, $1.key.high) }
            .map { PairTerm(first: term($0.key.low, $0.value), second: term($0.key.high, 0)) }
    }

    /// The estimated cost, in full passes of one complex multiplication per amplitude.
    var estimatedCost: Double {
        min(1.5, (constant == 0 ? 0 : 1) + 0.5 * Double(linear.count) + 0.25 * Double(quadratic.count))
    }
}

/// Per-worker tables for applying phase polynomials, allocated once per run.
final class PhaseScratch {
    /// Bits of a tile handled by the inner table: 2^7 entries keeps the tables in L1.
    static let innerBits = 7
    let maxQubits: Int
    var linear: [Double]
    var pairs: [(Int, Int, Double)] = []
    let innerReal: UnsafeMutablePointer<Double>
    let innerImaginary: UnsafeMutablePointer<Double>
    let tableReal: UnsafeMutablePointer<Double>
    let tableImaginary: UnsafeMutablePointer<Double>
    /// Cross weights: for each inner bit k, a table over the outer index of exp(i Σ γ_kl b_l).
    let crossReal: UnsafeMutablePointer<Double>
    let crossImaginary: UnsafeMutablePointer<Double>

    init(maxQubits: Int) {
        self.maxQubits = maxQubits
        linear = [Double](repeating: 0, count: maxQubits)
        let inner = 1 << Self.innerBits
        let outer = 1 << max(0, maxQubits - Self.innerBits)
        innerReal = .allocate(capacity: inner)
        innerImaginary = .allocate(capacity: inner)
        tableReal = .allocate(capacity: inner)
        tableImaginary = .allocate(capacity: inner)
        crossReal = .allocate(capacity: Self.innerBits * outer)
        crossImaginary = .allocate(capacity: Self.innerBits * outer)
    }

    deinit {
        innerReal.deallocate()
        innerImaginary.deallocate()
        tableReal.deallocate()
        tableImaginary.deallocate()
        crossReal.deallocate()
        crossImaginary.deallocate()
    }
}

/// Applies a compiled phase polynomial to one tile whose out-of-tile qubits have the bit values
/// of `tileBase`.
///
/// Terms on out-of-tile qubits are fixed for the whole tile and fold into the constant or into
/// linear terms. What remains is applied either term by term (cheap when there are few terms,
/// since a linear term touches half the amplitudes and a pair term a quarter) or in one sweep that
/// splits the local index into an inner part (low 7 bits, contiguous) and an outer part: for each
/// outer value the phases of all inner indices are built by doubling, at about one complex
/// multiplication per amplitude, and then applied.
func applyPhases(_ phases: CompiledPhases, to block: AmplitudeBlock, tileBase: Int, scratch: PhaseScratch) {
    let qubitCount = block.qubitCount
    for bit in 0 ..< qubitCount { scratch.linear[bit] = 0 }
    scratch.pairs.removeAll(keepingCapacity: true)
    var constant = phases.constant
    for term in phases.linear {
        if term.local >= 0 {
            scratch.linear[term.local] += term.angle
        } else if tileBase & term.globalMask != 0 {
            constant += term.angle
        }
    }
    for pair in phases.quadratic {
        let angle = pair.first.angle
        switch (pair.first.local >= 0, pair.second.local >= 0) {
        case (true, true):
            scratch.pairs.append((pair.first.local, pair.second.local, angle))
        case (true, false):
            if tileBase & pair.second.globalMask != 0 { scratch.linear[pair.first.local] += angle }
        case (false, true):
            if tileBase & pair.first.globalMask != 0 { scratch.linear[pair.second.local] += angle }
        case (false, false):
            if tileBase & pair.first.globalMask != 0, tileBase & pair.second.globalMask != 0 { constant += angle }
        }
    }
    var linearCount = 0
    for bit in 0 ..< qubitCount where scratch.linear[bit] != 0 { linearCount += 1 }
    let directCost = (constant == 0 ? 0 : 1) + 0.5 * Double(linearCount) + 0.25 * Double(scratch.pairs.count)
    if directCost <= 2 || qubitCount <= PhaseScratch.innerBits {
        applyPhasesTermByTerm(block, constant: constant, scratch: scratch)
    } else {
        sweepPhases(block, constant: constant, scratch: scratch)
    }
}

private func applyPhasesTermByTerm(_ block: AmplitudeBlock, constant: Double, scratch: PhaseScratch) {
    var pendingConstant = constant
    for bit in 0 ..< block.qubitCount where scratch.linear[bit] != 0 {
        // The constant rides along with the first linear term, so it costs no extra sweep.
        applyDiagonal1(block, bit: bit,
                       whenZero: pendingConstant == 0 ? .one : .phase(pendingConstant),
                       whenOne: .phase(pendingConstant + scratch.linear[bit]))
        pendingConstant = 0
    }
    if pendingConstant != 0 { scaleBlock(block, by: .phase(pendingConstant)) }
    for (first, second, angle) in scratch.pairs {
        applyPairPhase(block, first, second, .phase(angle))
    }
}

private func sweepPhases(_ block: AmplitudeBlock, constant: Double, scratch: PhaseScratch) {
    let innerBits = PhaseScratch.innerBits
    let innerCount = 1 << innerBits
    let outerBits = block.qubitCount - innerBits
    let outerCount = 1 << outerBits
    let linear = scratch.linear

    // Pair terms inside the inner bits make the inner phases non-separable: tabulate them once.
    var hasInnerPairs = false
    for (first, second, _) in scratch.pairs where first < innerBits && second < innerBits { hasInnerPairs = true }
    if hasInnerPairs {
        for index in 0 ..< innerCount {
            var angle = 0.0
            for bit in 0 ..< innerBits where index & (1 << bit) != 0 { angle += linear[bit] }
            for (first, second, pairAngle) in scratch.pairs
            where first < innerBits && second < innerBits && index & (1 << first) != 0 && index & (1 << second) != 0 {
                angle += pairAngle
            }
            scratch.innerReal[index] = cos(angle)
            scratch.innerImaginary[index] = sin(angle)
        }
    }

    // Cross weights by doubling over the outer bits: cross[k][b] = exp(i Σ_l γ_kl b_l).
    for bit in 0 ..< innerBits {
        let rowReal = scratch.crossReal + bit * outerCount, rowImaginary = scratch.crossImaginary + bit * outerCount
        rowReal[0] = 1
        rowImaginary[0] = 0
        for outerBit in 0 ..< outerBits {
            var angle = 0.0
            for (first, second, pairAngle) in scratch.pairs where first == bit && second == outerBit + innerBits {
                angle += pairAngle
            }
            let half = 1 << outerBit
            if angle == 0 {
                for index in 0 ..< half {
                    rowReal[half + index] = rowReal[index]
                    rowImaginary[half + index] = rowImaginary[index]
                }
            } else {
                let wr = cos(angle), wi = sin(angle)
                for index in 0 ..< half {
                    let ar = rowReal[index], ai = rowImaginary[index]
                    rowReal[half + index] = ar * wr - ai * wi
                    rowImaginary[half + index] = ar * wi + ai * wr
                }
            }
        }
    }

    var innerWeightReal = [Double](repeating: 1, count: innerBits)
    var innerWeightImaginary = [Double](repeating: 0, count: innerBits)
    if !hasInnerPairs {
        for bit in 0 ..< innerBits where linear[bit] != 0 {
            innerWeightReal[bit] = cos(linear[bit])
            innerWeightImaginary[bit] = sin(linear[bit])
        }
    }
    let tableReal = scratch.tableReal, tableImaginary = scratch.tableImaginary
    for outer in 0 ..< outerCount {
        let outerIndex = outer << innerBits
        var angle = constant
        for bit in innerBits ..< block.qubitCount where outerIndex & (1 << bit) != 0 { angle += linear[bit] }
        for (first, second, pairAngle) in scratch.pairs
        where first >= innerBits && outerIndex & (1 << first) != 0 && outerIndex & (1 << second) != 0 {
            angle += pairAngle
        }
        tableReal[0] = cos(angle)
        tableImaginary[0] = sin(angle)
        for bit in 0 ..< innerBits {
            let cr = scratch.crossReal[bit * outerCount + outer], ci = scratch.crossImaginary[bit * outerCount + outer]
            let wr = innerWeightReal[bit] * cr - innerWeightImaginary[bit] * ci
            let wi = innerWeightReal[bit] * ci + innerWeightImaginary[bit] * cr
            let half = 1 << bit
            for index in 0 ..< half {
                let ar = tableReal[index], ai = tableImaginary[index]
                tableReal[half + index] = ar * wr - ai * wi
                tableImaginary[half + index] = ar * wi + ai * wr
            }
        }
        if hasInnerPairs {
            multiplyRunByTable(tableReal, tableImaginary, from: 0, count: innerCount,
                               tableReal: scratch.innerReal, tableImaginary: scratch.innerImaginary)
        }
        multiplyRunByTable(block.real(outerIndex), block.imaginary(outerIndex), from: 0, count: innerCount,
                           tableReal: tableReal, tableImaginary: tableImaginary)
    }
}

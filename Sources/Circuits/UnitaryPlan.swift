/// A fused unitary program split into passes over the state.
///
/// A pass streams the state once, tile by tile: a tile is a set of `2^tileQubits` amplitudes
/// (all low qubits below `lowBits` plus the pass's `highQubits`) small enough to stay in the L2
/// cache, so every operation of the pass runs on cached data. Operations only need their *targets*
/// inside the tile; controls and diagonal factors on other qubits are constant within a tile.
struct UnitaryPlan: Sendable {
    struct Pass: Sendable {
        var operations: [FusedOperation]
        /// Target qubits at or above `lowBits`, ascending.
        var highQubits: [Int]
        var lowBits: Int
    }

    let qubitCount: Int
    let tileQubits: Int
    let passes: [Pass]
    /// `physical[logical]` after the plan ran.
    let finalPhysical: [Int]

    /// log2 of the tile size in amplitudes: 2^14 × 16 bytes = 256 KiB, a quarter of the L2 cache,
    /// leaving room for the hardware prefetcher's streams.
    static let defaultTileQubits = 14
    /// The smallest contiguous run gathered into a tile, as log2 of amplitudes (2 KiB per array).
    static let minimumLowBits = 8
    /// Work allowed in one pass, in units of a dense single-qubit gate over the state. Without AVX
    /// such a gate costs about 1.3 times streaming the state once, so this budget keeps a pass
    /// within about three memory passes of time while cheap operations still share passes.
    static let passBudget = 1.6

    init(qubitCount: Int, operations: [FusedOperation], finalPhysical: [Int], tileQubits: Int = defaultTileQubits) {
        self.qubitCount = qubitCount
        self.finalPhysical = finalPhysical
        self.tileQubits = min(tileQubits, qubitCount)
        if qubitCount <= tileQubits {
            passes = operations.isEmpty ? [] : [Pass(operations: operations, highQubits: [], lowBits: qubitCount)]
            return
        }
        var passes: [Pass] = []
        var current: [FusedOperation] = []
        var targets: Set<Int> = []
        var cost = 0.0
        func close() {
            guard !current.isEmpty else { return }
            let (high, low) = Self.layout(targets, tileQubits: tileQubits)!
            passes.append(Pass(operations: current, highQubits: high, lowBits: low))
            current = []
            targets = []
            cost = 0
        }
        for operation in operations {
            let operationTargets: [Int]
            let operationCost: Double
            switch operation {
            case .dense(let dense):
                operationTargets = dense.targets
                operationCost = dense.estimatedCost
            case .phases(let polynomial):
                operationTargets = []
                operationCost = CompiledPhases(polynomial, localPosition: { _ in 0 }).estimatedCost
            }
            let merged = targets.union(operationTargets)
            if !current.isEmpty && (cost + operationCost > Self.passBudget || Self.layout(merged, tileQubits: tileQubits) == nil) {
                close()
            }
            current.append(operation)
            targets.formUnion(operationTargets)
            cost += operationCost
        }
        close()
        self.passes = passes
    }

    /// The tile layout for a set of targets: high qubits and the number of low bits, or nil when the
    /// targets cannot share one tile.
    static func layout(_ targets: Set<Int>, tileQubits: Int) -> (high: [Int], lowBits: Int)? {
        let maximumHigh = tileQubits - minimumLowBits
        for highCount in 0 ... max(0, maximumHigh) {
            let high = targets.filter { $0 >= tileQubits - highCount }.sorted()
            if high.count <= highCount {
                return (high, tileQubits - high.count)
            }
        }
        return nil
    }
}

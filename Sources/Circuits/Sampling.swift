/// Draws basis states from the distribution `|a_i|²` of a state vector.
///
/// The shots' uniform numbers are drawn first and sorted, then one walk over the cumulative
/// distribution (block sums, then a scan inside the blocks that contain draws) serves all of
/// them, so sampling costs one pass over the state however many shots are taken.
func sampleBasisStates(_ state: StateVector, shots: Int, random: inout RandomSource, threads: Int) -> [Int: Int] {
    let reductions = StateReductions(state: state, threads: threads)
    let blockSums = reductions.blockProbabilities()
    let blockSize = reductions.blockSize
    var blockStart = [Double](repeating: 0, count: blockSums.count + 1)
    for (block, sum) in blockSums.enumerated() { blockStart[block + 1] = blockStart[block] + sum }
    let total = blockStart[blockSums.count]

    var draws = (0 ..< shots).map { _ in random.nextUnit() * total }
    draws.sort()

    @inline(__always) func probability(_ index: Int) -> Double {
        state.real[index] * state.real[index] + state.imaginary[index] * state.imaginary[index]
    }
    var counts: [Int: Int] = [:]
    var block = -1
    var index = 0
    var cumulative = 0.0
    for draw in draws {
        if block < 0 || (block < blockSums.count - 1 && draw >= blockStart[block + 1]) {
            block = max(block, 0)
            while block < blockSums.count - 1 && blockStart[block + 1] <= draw { block += 1 }
            index = block * blockSize
            cumulative = blockStart[block]
        }
        let blockEnd = (block + 1) * blockSize
        var outcome: Int?
        while index < blockEnd {
            let p = probability(index)
            if cumulative + p > draw {
                outcome = index
                break
            }
            cumulative += p
            index += 1
        }
        if outcome == nil {
            // Rounding left the draw just past the block's partial sums: it belongs to the last
            // basis state before it that has any probability.
            var candidate = min(index, state.count - 1)
            while candidate > 0 && probability(candidate) == 0 { candidate -= 1 }
            outcome = candidate
        }
        counts[outcome!, default: 0] += 1
    }
    return counts
}

/// Builds counts keys from classical bit values, in the Qiskit convention.
///
/// Highest clbit leftmost; registers separated by one space, the last declared leftmost.
struct OutcomeFormatter: Sendable {
    let registers: [Register]

    init(circuit: Circuit) {
        registers = circuit.classicalRegisters
    }

    func key(_ bit: (Int) -> Bool) -> String {
        var key = ""
        for register in registers.reversed() {
            if !key.isEmpty { key.append(" ") }
            for index in register.indices.reversed() { key.append(bit(index) ? "1" : "0") }
        }
        return key
    }
}

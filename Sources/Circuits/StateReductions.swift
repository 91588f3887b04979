/// Whole-state reductions and updates used by sampling and mid-circuit measurement.
///
/// Sums run over fixed blocks of the state, each summed in index order and then combined in
/// block order, so the floating-point result does not depend on how blocks were spread over threads.
struct StateReductions: Sendable {
    let state: StateVector
    let threads: Int

    /// log2 of the block size used for deterministic partial sums.
    static let blockQubits = 14

    var blockCount: Int { 1 << max(0, state.qubitCount - Self.blockQubits) }
    var blockSize: Int { state.count / blockCount }

    /// `Σ |a_i|²` over each block, in block order.
    func blockProbabilities() -> [Double] {
        let sums = UnsafeMutableBufferPointer<Double>.allocate(capacity: blockCount)
        defer { sums.deallocate() }
        let blockSize = self.blockSize, state = self.state
        let output = SendablePointer(sums.baseAddress!)
        parallelBlocks { block in
            var sum = 0.0
            let start = block * blockSize
            for index in start ..< start + blockSize {
                sum += state.real[index] * state.real[index] + state.imaginary[index] * state.imaginary[index]
            }
            output.pointer[block] = sum
        }
        return Array(sums)
    }

    /// Total probability of qubit `qubit` reading 0 and reading 1.
    func qubitProbabilities(_ qubit: Int) -> (zero: Double, one: Double) {
        let sums = UnsafeMutableBufferPointer<Double>.allocate(capacity: 2 * blockCount)
        defer { sums.deallocate() }
        let blockSize = self.blockSize, state = self.state
        let output = SendablePointer(sums.baseAddress!)
        let mask = 1 << qubit
        parallelBlocks { block in
            var zero = 0.0, one = 0.0
            let start = block * blockSize
            for index in start ..< start + blockSize {
                let p = state.real[index] * state.real[index] + state.imaginary[index] * state.imaginary[index]
                if index & mask == 0 { zero += p } else { one += p }
            }
            output.pointer[2 * block] = zero
            output.pointer[2 * block + 1] = one
        }
        var zero = 0.0, one = 0.0
        for block in 0 ..< blockCount {
            zero += sums[2 * block]
            one += sums[2 * block + 1]
        }
        return (zero, one)
    }

    /// Projects `qubit` onto `outcome`, rescales by `scale`, and when `moveToZero` is set moves the
    /// kept amplitudes to the |0⟩ half (a reset that found 1).
    func collapse(_ qubit: Int, outcome: Int, scale: Double, moveToZero: Bool) {
        let blockSize = self.blockSize, state = self.state
        let mask = 1 << qubit
        parallelBlocks { block in
            let start = block * blockSize
            for index in start ..< start + blockSize where index & mask == 0 {
                let partner = index | mask
                if outcome == 0 {
                    state.real[index] *= scale
                    state.imaginary[index] *= scale
                    state.real[partner] = 0
                    state.imaginary[partner] = 0
                } else if moveToZero {
                    state.real[index] = state.real[partner] * scale
                    state.imaginary[index] = state.imaginary[partner] * scale
                    state.real[partner] = 0
                    state.imaginary[partner] = 0
                } else {
                    state.real[partner] *= scale
                    state.imaginary[partner] *= scale
                    state.real[index] = 0
                    state.imaginary[index] = 0
                }
            }
        }
    }

    /// Runs `body(block)` for every block; blocks never straddle a qubit's pairs below `blockQubits`,
    /// and `collapse` handles pairs across blocks by only acting from the lower index.
    private func parallelBlocks(_ body: @escaping @Sendable (Int) -> Void) {
        let blockCount = self.blockCount
        let workers = max(1, min(threads, blockCount))
        runInParallel(workers: workers) { worker in
            var block = worker
            while block < blockCount {
                body(block)
                block += workers
            }
        }
    }
}

/// A raw pointer that may cross into worker closures.
///
/// Workers write disjoint elements and the parallel section joins before the memory is read.
struct SendablePointer<Element>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Element>

    init(_ pointer: UnsafeMutablePointer<Element>) {
        self.pointer = pointer
    }
}

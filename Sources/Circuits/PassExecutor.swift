import Synchronization

/// One operation of a pass, translated to the pass's local bit positions.
private enum CompiledStep: Sendable {
    case pauliX(target: Int, fixed: [Int], localControls: Int, outerControls: Int)
    case matrix1(target: Int, fixed: [Int], localControls: Int, outerControls: Int, Matrix2)
    case matrixK(targets: [Int], fixed: [Int], localControls: Int, outerControls: Int, matrix: [Double])
    case phases(CompiledPhases)
}

/// A pass with everything a worker needs precomputed, shared read-only between workers.
private struct CompiledPass: Sendable {
    let tileQubits: Int
    let lowBits: Int
    let highQubits: [Int]
    /// Global qubits outside the tile, ascending: the bits that number the tiles.
    let outerQubits: [Int]
    let steps: [CompiledStep]

    init(_ pass: UnitaryPlan.Pass, qubitCount: Int, tileQubits: Int) {
        self.tileQubits = tileQubits
        lowBits = pass.lowBits
        highQubits = pass.highQubits
        let lowBits = pass.lowBits, highQubits = pass.highQubits
        outerQubits = (lowBits ..< qubitCount).filter { !highQubits.contains($0) }
        func local(_ qubit: Int) -> Int {
            if qubit < lowBits { return qubit }
            if let index = highQubits.firstIndex(of: qubit) { return lowBits + index }
            return -1
        }
        steps = pass.operations.map { operation in
            switch operation {
            case .phases(let polynomial):
                return .phases(CompiledPhases(polynomial, localPosition: local))
            case .dense(let dense):
                var localControls = 0, outerControls = 0
                var controlPositions: [Int] = []
                for control in dense.controls {
                    let position = local(control)
                    if position >= 0 {
                        localControls |= 1 << position
                        controlPositions.append(position)
                    } else {
                        outerControls |= 1 << control
                    }
                }
                let targets = dense.targets.map(local)
                let fixed = (controlPositions + targets).sorted()
                if dense.isPauliX {
                    return .pauliX(target: targets[0], fixed: fixed, localControls: localControls, outerControls: outerControls)
                }
                if targets.count == 1 {
                    return .matrix1(target: targets[0], fixed: fixed, localControls: localControls,
                                    outerControls: outerControls, Matrix2(dense.matrix))
                }
                return .matrixK(targets: targets, fixed: fixed, localControls: localControls, outerControls: outerControls,
                                matrix: dense.matrix.flatMap { [$0.real, $0.imaginary] })
            }
        }
    }

    /// The global index of the tile's first amplitude: the tile number's bits spread over the outer qubits.
    func tileBase(_ tile: Int) -> Int {
        var base = 0
        for (bit, qubit) in outerQubits.enumerated() where tile & (1 << bit) != 0 { base |= 1 << qubit }
        return base
    }

    func highOffset(_ index: Int) -> Int {
        var offset = 0
        for (bit, qubit) in highQubits.enumerated() where index & (1 << bit) != 0 { offset |= 1 << qubit }
        return offset
    }
}

/// Buffers owned by one worker thread for the duration of a run.
private final class WorkerScratch {
    let chunkReal: UnsafeMutablePointer<UnsafeMutablePointer<Double>>
    let chunkImaginary: UnsafeMutablePointer<UnsafeMutablePointer<Double>>
    let matrixScratch: UnsafeMutablePointer<Double>
    let phases: PhaseScratch

    init(tileQubits: Int) {
        let maximumChunks = 1 << max(0, tileQubits - UnitaryPlan.minimumLowBits)
        chunkReal = .allocate(capacity: maximumChunks)
        chunkImaginary = .allocate(capacity: maximumChunks)
        matrixScratch = .allocate(capacity: 8 * 32)
        phases = PhaseScratch(maxQubits: tileQubits)
    }

    deinit {
        chunkReal.deallocate()
        chunkImaginary.deallocate()
        matrixScratch.deallocate()
    }
}

/// Thrown inside the engine when the caller's stop hook fires; the public API maps it.
struct ExecutionStopped: Error {}

/// Runs unitary plans on a state vector, splitting each pass's tiles among worker threads.
///
/// Tiles are handed out dynamically, but every tile is computed by the same arithmetic whichever
/// thread takes it, so results are bit-for-bit independent of the thread count.
final class PassExecutor: @unchecked Sendable {
    // @unchecked: each worker touches only its own scratch and its own tiles (disjoint amplitude
    // sets); the tile counter is atomic; `concurrentPerform` joins all workers before returning.
    let state: StateVector
    let threads: Int
    let shouldStop: (@Sendable () -> Bool)?
    private let tileQubits: Int
    private let scratch: [WorkerScratch]
    private let nextTile = Atomic<Int>(0)
    private let stopRequested = Atomic<Bool>(false)
    /// Number of passes over the state executed so far, for the bandwidth-bound report.
    private(set) var passesExecuted = 0

    init(state: StateVector, threads: Int, tileQubits: Int = UnitaryPlan.defaultTileQubits, shouldStop: (@Sendable () -> Bool)?) {
        self.state = state
        self.tileQubits = min(tileQubits, state.qubitCount)
        let tileCount = 1 << (state.qubitCount - self.tileQubits)
        self.threads = max(1, min(threads, tileCount))
        self.shouldStop = shouldStop
        scratch = (0 ..< self.threads).map { _ in WorkerScratch(tileQubits: min(tileQubits, state.qubitCount)) }
    }

    /// Applies every pass of the plan in order; throws `ExecutionStopped` if the hook fires.
    func run(_ plan: UnitaryPlan) throws(ExecutionStopped) {
        precondition(plan.qubitCount == state.qubitCount && plan.tileQubits == tileQubits)
        for pass in plan.passes {
            if shouldStop?() == true { throw ExecutionStopped() }
            run(CompiledPass(pass, qubitCount: state.qubitCount, tileQubits: tileQubits))
            if stopRequested.load(ordering: .relaxed) { throw ExecutionStopped() }
            passesExecuted += 1
        }
    }

    private func run(_ pass: CompiledPass) {
        let tileCount = 1 << (state.qubitCount - tileQubits)
        nextTile.store(0, ordering: .relaxed)
        runInParallel(workers: threads) { worker in
            let scratch = self.scratch[worker]
            var processed = 0
            while true {
                let tile = self.nextTile.wrappingAdd(1, ordering: .relaxed).oldValue
                if tile >= tileCount || self.stopRequested.load(ordering: .relaxed) { return }
                self.process(tile: tile, of: pass, scratch: scratch)
                processed += 1
                if worker == 0, processed % 16 == 0, self.shouldStop?() == true {
                    self.stopRequested.store(true, ordering: .relaxed)
                }
            }
        }
    }

    private func process(tile: Int, of pass: CompiledPass, scratch: WorkerScratch) {
        let base = pass.tileBase(tile)
        for chunk in 0 ..< 1 << pass.highQubits.count {
            let offset = base | pass.highOffset(chunk)
            scratch.chunkReal[chunk] = state.real + offset
            scratch.chunkImaginary[chunk] = state.imaginary + offset
        }
        let block = AmplitudeBlock(chunkReal: scratch.chunkReal, chunkImaginary: scratch.chunkImaginary,
                                   chunkBits: pass.lowBits, qubitCount: pass.tileQubits)
        for step in pass.steps {
            switch step {
            case .pauliX(let target, let fixed, let localControls, let outerControls):
                guard base & outerControls == outerControls else { continue }
                applyPauliX(block, target: target, fixedPositions: fixed, controlMask: localControls)
            case .matrix1(let target, let fixed, let localControls, let outerControls, let matrix):
                guard base & outerControls == outerControls else { continue }
                applyMatrix1(block, target: target, fixedPositions: fixed, controlMask: localControls, matrix)
            case .matrixK(let targets, let fixed, let localControls, let outerControls, let matrix):
                guard base & outerControls == outerControls else { continue }
                matrix.withUnsafeBufferPointer { matrix in
                    applyMatrixK(block, targets: targets, fixedPositions: fixed, controlMask: localControls, matrix,
                                 scratch: scratch.matrixScratch)
                }
            case .phases(let phases):
                applyPhases(phases, to: block, tileBase: base, scratch: scratch.phases)
            }
        }
    }
}

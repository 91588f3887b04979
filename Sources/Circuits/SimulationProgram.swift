/// A circuit prepared for simulation: barriers dropped, SWAP patterns recognised, and the
/// decision between sampling one final state and running shot by shot.
struct SimulationProgram {
    let circuit: Circuit
    let instructions: [Instruction]
    /// Why the circuit is not measured only at the end, or nil when it is.
    let midCircuitReason: String?

    init(_ circuit: Circuit) {
        self.circuit = circuit
        instructions = Self.recogniseSwaps(circuit.instructions.filter {
            if case .barrier = $0.operation { return false }
            return true
        })
        midCircuitReason = Self.midCircuitReason(instructions, qubitCount: circuit.qubitCount)
    }

    // MARK: - Analysis

    private static func midCircuitReason(_ instructions: [Instruction], qubitCount: Int) -> String? {
        var measured = [Bool](repeating: false, count: qubitCount)
        for (position, instruction) in instructions.enumerated() {
            if instruction.condition != nil { return "instruction \(position + 1) is conditional (if)" }
            switch instruction.operation {
            case .reset: return "instruction \(position + 1) is a reset"
            case .measure(let qubit, _): measured[qubit] = true
            case .gate(let application):
                if let qubit = application.qubits.first(where: { measured[$0] }) {
                    return "qubit \(qubit) is used by a gate after it was measured"
                }
            case .barrier: break
            }
        }
        return nil
    }

    /// Replaces `cx a,b; cx b,a; cx a,b` (with nothing else on `a` or `b` in between) by `swap a,b`,
    /// which the simulator performs as a free relabelling. Exporters write SWAPs this way.
    private static func recogniseSwaps(_ instructions: [Instruction]) -> [Instruction] {
        let window = 64
        var result: [Instruction] = []
        result.reserveCapacity(instructions.count)
        var consumed = Set<Int>()
        func cnotQubits(_ instruction: Instruction) -> (Int, Int)? {
            guard instruction.condition == nil, case .gate(let application) = instruction.operation,
                  application.gate == .cx || application.gate == .CX else { return nil }
            return (application.qubits[0], application.qubits[1])
        }
        func next(after start: Int, touching a: Int, _ b: Int) -> Int? {
            var position = start + 1
            while position < instructions.count && position <= start + window {
                if !consumed.contains(position) {
                    let qubits = instructions[position].operation.qubits
                    if qubits.contains(a) || qubits.contains(b) { return position }
                }
                position += 1
            }
            return nil
        }
        for (position, instruction) in instructions.enumerated() {
            if consumed.contains(position) { continue }
            if let (a, b) = cnotQubits(instruction),
               let second = next(after: position, touching: a, b), let (c, d) = cnotQubits(instructions[second]), c == b, d == a,
               let third = next(after: second, touching: a, b), let (e, f) = cnotQubits(instructions[third]), e == a, f == b {
                consumed.insert(second)
                consumed.insert(third)
                result.append(Instruction(.gate(GateApplication(.swap, qubits: [a, b]))))
                continue
            }
            result.append(instruction)
        }
        return result
    }

    // MARK: - Final-state path

    private struct FinalState {
        let state: StateVector
        let physical: [Int]
        let passes: Int
        let threads: Int
        let allocationSeconds: Double
    }

    /// What a run reports besides its counts.
    struct RunFacts {
        var counts: [String: Int]
        var method: SamplingMethod
        var passes: Int
        var threads: Int
        var allocationSeconds: Double
    }

    /// Allocates a zeroed state and adds the time it took (mostly the kernel faulting pages in) to `seconds`.
    private func allocateState(adding seconds: inout Double) throws -> StateVector {
        let clock = ContinuousClock()
        let start = clock.now
        guard let state = StateVector(qubitCount: circuit.qubitCount) else {
            throw SimulationError.outOfMemory(bytes: (1 << circuit.qubitCount) * 16)
        }
        let elapsed = clock.now - start
        seconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return state
    }

    /// Simulates all gates of an end-measured circuit once.
    private func simulateGates(_ options: SimulationOptions) throws -> FinalState {
        var fuser = GateFuser(qubitCount: circuit.qubitCount)
        for instruction in instructions {
            if case .gate(let application) = instruction.operation { fuser.add(application) }
        }
        fuser.finish()
        let plan = UnitaryPlan(qubitCount: circuit.qubitCount, operations: fuser.operations, finalPhysical: fuser.physical)
        var allocationSeconds = 0.0
        let state = try allocateState(adding: &allocationSeconds)
        let executor = PassExecutor(state: state, threads: options.threads, shouldStop: options.shouldStop)
        try executor.run(plan)
        return FinalState(state: state, physical: fuser.physical, passes: executor.passesExecuted, threads: executor.threads,
                          allocationSeconds: allocationSeconds)
    }

    /// For each clbit, the logical qubit whose measurement it holds last (nil: never written, reads 0).
    private var finalMeasurementSources: [Int?] {
        var sources = [Int?](repeating: nil, count: circuit.clbitCount)
        for instruction in instructions {
            if case .measure(let qubit, let clbit) = instruction.operation { sources[clbit] = qubit }
        }
        return sources
    }

    /// Simulates the shots; `cachePrefix: false` forces shot-by-shot runs to recompute the unitary
    /// prefix per shot (what large states do), which tests use to check both paths agree.
    func run(shots: Int, seed: UInt64, options: SimulationOptions, cachePrefix: Bool = true) throws -> RunFacts {
        guard midCircuitReason == nil else {
            return try runShotByShot(shots: shots, seed: seed, options: options,
                                     cachePrefix: cachePrefix && circuit.qubitCount <= Self.largestCachedPrefix)
        }
        let final = try simulateGates(options)
        if options.shouldStop?() == true { throw ExecutionStopped() }
        var random = RandomSource(seed: seed)
        let samples = sampleBasisStates(final.state, shots: shots, random: &random, threads: final.threads)
        let sources = finalMeasurementSources.map { $0.map { final.physical[$0] } }
        let formatter = OutcomeFormatter(circuit: circuit)
        var counts: [String: Int] = [:]
        for (index, count) in samples {
            let key = formatter.key { clbit in sources[clbit].map { index & (1 << $0) != 0 } ?? false }
            counts[key, default: 0] += count
        }
        return RunFacts(counts: counts, method: .finalState, passes: final.passes, threads: final.threads,
                        allocationSeconds: final.allocationSeconds)
    }

    func exactDistribution(options: SimulationOptions, cutoff: Double) throws -> [OutcomeDistribution.Outcome] {
        if let midCircuitReason { throw SimulationError.notEndMeasured(midCircuitReason) }
        let final = try simulateGates(options)
        let sources = finalMeasurementSources.map { $0.map { final.physical[$0] } }
        let measured = Array(Set(sources.compactMap { $0 })).sorted()
        let state = final.state
        let formatter = OutcomeFormatter(circuit: circuit)
        // Position of each measured physical qubit in the marginal's index.
        var position = [Int](repeating: -1, count: circuit.qubitCount)
        for (index, qubit) in measured.enumerated() { position[qubit] = index }
        var marginal: [Double]
        if measured.count == circuit.qubitCount {
            marginal = (0 ..< state.count).map { state.real[$0] * state.real[$0] + state.imaginary[$0] * state.imaginary[$0] }
        } else {
            marginal = [Double](repeating: 0, count: 1 << measured.count)
            for index in 0 ..< state.count {
                var compact = 0
                for (bit, qubit) in measured.enumerated() where index & (1 << qubit) != 0 { compact |= 1 << bit }
                marginal[compact] += state.real[index] * state.real[index] + state.imaginary[index] * state.imaginary[index]
            }
        }
        var outcomes: [OutcomeDistribution.Outcome] = []
        for (compact, probability) in marginal.enumerated() where probability > cutoff {
            let key = formatter.key { clbit in sources[clbit].map { compact & (1 << position[$0]) != 0 } ?? false }
            outcomes.append(OutcomeDistribution.Outcome(key: key, probability: probability))
        }
        return outcomes
    }

    func finalStatevector(options: SimulationOptions) throws -> [Complex] {
        if let midCircuitReason { throw SimulationError.notEndMeasured(midCircuitReason) }
        let final = try simulateGates(options)
        let state = final.state
        var amplitudes = [Complex](repeating: .zero, count: state.count)
        for logicalIndex in 0 ..< state.count {
            var physicalIndex = 0
            for (logical, physical) in final.physical.enumerated() where logicalIndex & (1 << logical) != 0 {
                physicalIndex |= 1 << physical
            }
            amplitudes[logicalIndex] = state[physicalIndex]
        }
        return amplitudes
    }

    // MARK: - Shot-by-shot path

    private enum Step {
        case unitary(UnitaryPlan)
        case measure(physical: Int, clbit: Int)
        case reset(physical: Int)
        case conditional(Condition, ConditionalAction)
    }

    private enum ConditionalAction {
        case unitary(UnitaryPlan)
        case measure(physical: Int, clbit: Int)
        case reset(physical: Int)
    }

    private func buildSteps() -> (steps: [Step], terminal: [(clbit: Int, physical: Int)]) {
        let qubitCount = circuit.qubitCount
        var terminalStart = instructions.count
        while terminalStart > 0, instructions[terminalStart - 1].condition == nil,
              case .measure = instructions[terminalStart - 1].operation {
            terminalStart -= 1
        }
        var steps: [Step] = []
        var physical = Array(0 ..< qubitCount)
        var segment: GateFuser?
        func closeSegment() {
            guard var fuser = segment else { return }
            fuser.finish()
            steps.append(.unitary(UnitaryPlan(qubitCount: qubitCount, operations: fuser.operations, finalPhysical: fuser.physical)))
            physical = fuser.physical
            segment = nil
        }
        for instruction in instructions[..<terminalStart] {
            if instruction.condition == nil, case .gate(let application) = instruction.operation {
                if segment == nil { segment = GateFuser(qubitCount: qubitCount, physical: physical) }
                segment!.add(application)
                continue
            }
            closeSegment()
            switch (instruction.operation, instruction.condition) {
            case (.measure(let qubit, let clbit), nil):
                steps.append(.measure(physical: physical[qubit], clbit: clbit))
            case (.reset(let qubit), nil):
                steps.append(.reset(physical: physical[qubit]))
            case (.measure(let qubit, let clbit), let condition?):
                steps.append(.conditional(condition, .measure(physical: physical[qubit], clbit: clbit)))
            case (.reset(let qubit), let condition?):
                steps.append(.conditional(condition, .reset(physical: physical[qubit])))
            case (.gate(let application), let condition?):
                var fuser = GateFuser(qubitCount: qubitCount, physical: physical)
                fuser.add(application, allowRelabel: false)
                fuser.finish()
                let plan = UnitaryPlan(qubitCount: qubitCount, operations: fuser.operations, finalPhysical: physical)
                steps.append(.conditional(condition, .unitary(plan)))
            case (.gate, nil), (.barrier, _):
                break
            }
        }
        closeSegment()
        let terminal = instructions[terminalStart...].compactMap { instruction -> (clbit: Int, physical: Int)? in
            guard case .measure(let qubit, let clbit) = instruction.operation else { return nil }
            return (clbit, physical[qubit])
        }
        return (steps, terminal)
    }

    /// Qubit count up to which shot-by-shot runs keep a second state (1 GiB at 26 qubits).
    static let largestCachedPrefix = 26

    private func runShotByShot(shots: Int, seed: UInt64, options: SimulationOptions, cachePrefix: Bool) throws -> RunFacts {
        let (steps, terminal) = buildSteps()
        let prefixLength = steps.prefix { if case .unitary = $0 { return true } else { return false } }.count
        var allocationSeconds = 0.0
        let work = try allocateState(adding: &allocationSeconds)
        let executor = PassExecutor(state: work, threads: options.threads, shouldStop: options.shouldStop)
        // The state after the unitary prefix is kept for copying into each shot, unless a second
        // state would be large; then each shot simulates the prefix again, keeping memory flat.
        var prefixState: StateVector?
        var prefixPasses = 0
        if cachePrefix {
            let state = try allocateState(adding: &allocationSeconds)
            let prefixExecutor = PassExecutor(state: state, threads: options.threads, shouldStop: options.shouldStop)
            for case .unitary(let plan) in steps[..<prefixLength] { try prefixExecutor.run(plan) }
            prefixState = state
            prefixPasses = prefixExecutor.passesExecuted
        }
        let reductions = StateReductions(state: work, threads: executor.threads)
        let formatter = OutcomeFormatter(circuit: circuit)
        let registers = circuit.classicalRegisters
        var counts: [String: Int] = [:]
        var clbits = [Bool](repeating: false, count: circuit.clbitCount)

        func measure(_ qubit: Int, _ random: inout RandomSource) -> Int {
            let (zero, one) = reductions.qubitProbabilities(qubit)
            let outcome = random.nextUnit() * (zero + one) < one ? 1 : 0
            reductions.collapse(qubit, outcome: outcome, scale: 1 / (outcome == 1 ? one : zero).squareRoot(), moveToZero: false)
            return outcome
        }
        func reset(_ qubit: Int, _ random: inout RandomSource) {
            let (zero, one) = reductions.qubitProbabilities(qubit)
            let outcome = random.nextUnit() * (zero + one) < one ? 1 : 0
            reductions.collapse(qubit, outcome: outcome, scale: 1 / (outcome == 1 ? one : zero).squareRoot(), moveToZero: true)
        }
        func holds(_ condition: Condition) -> Bool {
            let register = registers[condition.register]
            for (bit, clbit) in register.indices.enumerated() {
                let expected = bit < 64 && condition.value & (1 << UInt64(bit)) != 0
                if clbits[clbit] != expected { return false }
            }
            return register.size >= 64 || condition.value >> UInt64(register.size) == 0
        }

        for shot in 0 ..< shots {
            if options.shouldStop?() == true { throw ExecutionStopped() }
            if let prefixState {
                work.copy(from: prefixState)
            } else {
                work.resetToZeroState()
                for case .unitary(let plan) in steps[..<prefixLength] { try executor.run(plan) }
            }
            for index in clbits.indices { clbits[index] = false }
            var random = RandomSource(seed: seed, stream: UInt64(shot))
            for step in steps[prefixLength...] {
                switch step {
                case .unitary(let plan):
                    try executor.run(plan)
                case .measure(let qubit, let clbit):
                    clbits[clbit] = measure(qubit, &random) == 1
                case .reset(let qubit):
                    reset(qubit, &random)
                case .conditional(let condition, let action):
                    guard holds(condition) else { continue }
                    switch action {
                    case .unitary(let plan): try executor.run(plan)
                    case .measure(let qubit, let clbit): clbits[clbit] = measure(qubit, &random) == 1
                    case .reset(let qubit): reset(qubit, &random)
                    }
                }
            }
            if !terminal.isEmpty {
                let sample = sampleBasisStates(work, shots: 1, random: &random, threads: executor.threads)
                let index = sample.keys.first!
                for (clbit, qubit) in terminal { clbits[clbit] = index & (1 << qubit) != 0 }
            }
            counts[formatter.key { clbits[$0] }, default: 0] += 1
        }
        return RunFacts(counts: counts, method: .shotByShot, passes: prefixPasses + executor.passesExecuted,
                        threads: executor.threads, allocationSeconds: allocationSeconds)
    }
}

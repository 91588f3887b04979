#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Settings of one simulation run.
public struct SimulationOptions: Sendable {
    /// Circuits with more qubits are refused before any memory is allocated (a state of n qubits
    /// takes 2^n × 16 bytes: 4 GiB at 28).
    public var maxQubits: Int
    /// Worker threads for large states; defaults to every online core.
    public var threads: Int
    /// Polled between passes over the state, inside long passes, and between shots; returning
    /// true stops the run with `SimulationError.stopped`. Use it for cancellation and deadlines.
    public var shouldStop: (@Sendable () -> Bool)?

    /// Creates options; the defaults are 28 qubits, all cores, and no stop hook.
    public init(maxQubits: Int = 28, threads: Int = Simulator.availableCores, shouldStop: (@Sendable () -> Bool)? = nil) {
        self.maxQubits = maxQubits
        self.threads = threads
        self.shouldStop = shouldStop
    }
}

/// How the shots of a run were produced.
public enum SamplingMethod: String, Sendable, Codable {
    /// The circuit was simulated once and all shots were drawn from the final distribution.
    case finalState = "final-state"
    /// Mid-circuit measurement, reset or `if` made every shot follow its own path.
    case shotByShot = "shot-by-shot"
}

/// The outcome of `Simulator.run`.
public struct SimulationResult: Sendable {
    /// Shot counts keyed like Qiskit: highest clbit leftmost, registers separated by a space,
    /// last-declared register leftmost.
    public var counts: [String: Int]
    /// Wall time of the simulation (state evolution and sampling; parsing excluded).
    public var seconds: Double
    /// Whether shots were sampled from one final state or simulated one by one.
    public var method: SamplingMethod
    /// Shots taken.
    public var shots: Int
    /// The seed that makes the counts reproducible.
    public var seed: UInt64
    /// Qubits simulated.
    public var qubits: Int
    /// Worker threads used.
    public var threads: Int
    /// Passes over the full state made by the gate kernels (fused gate groups executed), the
    /// figure behind the memory-bandwidth bound.
    public var passes: Int
    /// Part of `seconds` spent obtaining zeroed memory for the state (the kernel faulting pages
    /// in): about 0.05–0.5 s per GiB here, and not something the gate kernels can speed up.
    public var allocationSeconds: Double
}

/// The exact outcome distribution of a circuit whose measurements all come at the end.
public struct OutcomeDistribution: Sendable {
    /// One outcome: its counts key and its probability.
    public struct Outcome: Sendable, Hashable {
        /// The key, formatted exactly like a counts key.
        public var key: String
        /// The probability, in double precision.
        public var probability: Double
    }

    /// Outcomes with probability above `cutoff`, in no particular order.
    public var outcomes: [Outcome]
    /// Probabilities at or below this were left out as numerical noise.
    public var cutoff: Double
    /// Wall time of the computation.
    public var seconds: Double

    /// The outcomes as a dictionary from key to probability.
    public var probabilities: [String: Double] {
        Dictionary(outcomes.map { ($0.key, $0.probability) }, uniquingKeysWith: +)
    }
}

/// Why a simulation could not run or did not finish.
public enum SimulationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The circuit has more qubits than `SimulationOptions.maxQubits`.
    case tooManyQubits(qubits: Int, limit: Int)
    /// Shots must be at least 1.
    case invalidShots(Int)
    /// The stop hook asked the run to stop.
    case stopped
    /// Exact probabilities need all measurements at the end; the reason names the obstacle.
    case notEndMeasured(String)
    /// The state vector could not be allocated.
    case outOfMemory(bytes: Int)

    /// A message for users, naming the limit or the obstacle.
    public var description: String {
        switch self {
        case .tooManyQubits(let qubits, let limit):
            "the circuit has \(qubits) qubits; this simulator is limited to \(limit) (a state of n qubits needs 2^n × 16 bytes)"
        case .invalidShots(let shots):
            "shots must be at least 1, got \(shots)"
        case .stopped:
            "the simulation was stopped before it finished"
        case .notEndMeasured(let reason):
            "exact probabilities need every measurement at the end of the circuit: \(reason)"
        case .outOfMemory(let bytes):
            "could not allocate \(bytes) bytes for the state vector"
        }
    }
}

/// A double-precision state-vector simulator.
///
/// Gates are fused (single-qubit runs, diagonal phase polynomials, SWAPs as relabelling) and
/// applied in cache-sized tiles shared by the worker threads. Circuits measured only at the end are
/// simulated once and sampled; others run shot by shot after simulating their unitary prefix once.
/// A `Simulator` holds no state between calls and may be used from several threads at once; each
/// call allocates its own state vector.
public struct Simulator: Sendable {
    /// The options every call uses.
    public var options: SimulationOptions

    /// Creates a simulator with the given options.
    public init(options: SimulationOptions = SimulationOptions()) {
        self.options = options
    }

    /// The number of online CPU cores, the default thread count.
    public static var availableCores: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Simulates `shots` runs of the circuit and counts the measured classical registers.
    ///
    /// The same circuit, shots and seed give the same counts on every run and for every thread count.
    public func run(_ circuit: Circuit, shots: Int, seed: UInt64) throws(SimulationError) -> SimulationResult {
        guard shots >= 1 else { throw .invalidShots(shots) }
        try checkSize(circuit)
        let clock = ContinuousClock()
        let start = clock.now
        let program = SimulationProgram(circuit)
        do {
            let facts = try program.run(shots: shots, seed: seed, options: options)
            return SimulationResult(counts: facts.counts, seconds: Self.seconds(since: start, clock), method: facts.method,
                                    shots: shots, seed: seed, qubits: circuit.qubitCount, threads: facts.threads,
                                    passes: facts.passes, allocationSeconds: facts.allocationSeconds)
        } catch let error as SimulationError {
            throw error
        } catch {
            throw .stopped
        }
    }

    /// The exact distribution over the classical registers, for circuits measured only at the end.
    ///
    /// Outcomes with probability at most `cutoff` are left out.
    public func probabilities(_ circuit: Circuit, cutoff: Double = 1e-15) throws(SimulationError) -> OutcomeDistribution {
        try checkSize(circuit)
        let clock = ContinuousClock()
        let start = clock.now
        let program = SimulationProgram(circuit)
        do {
            let outcomes = try program.exactDistribution(options: options, cutoff: cutoff)
            return OutcomeDistribution(outcomes: outcomes, cutoff: cutoff, seconds: Self.seconds(since: start, clock))
        } catch let error as SimulationError {
            throw error
        } catch {
            throw .stopped
        }
    }

    /// The final state of the circuit's gates, amplitude `i` being basis state `i` (qubit k = bit k).
    ///
    /// Measurements at the end are ignored; mid-circuit measurement, reset and `if` are refused,
    /// since they leave no single final state.
    public func statevector(_ circuit: Circuit) throws(SimulationError) -> [Complex] {
        try checkSize(circuit)
        let program = SimulationProgram(circuit)
        do {
            return try program.finalStatevector(options: options)
        } catch let error as SimulationError {
            throw error
        } catch {
            throw .stopped
        }
    }

    private func checkSize(_ circuit: Circuit) throws(SimulationError) {
        if circuit.qubitCount > options.maxQubits || circuit.qubitCount > 40 {
            throw .tooManyQubits(qubits: circuit.qubitCount, limit: min(options.maxQubits, 40))
        }
    }

    private static func seconds(since start: ContinuousClock.Instant, _ clock: ContinuousClock) -> Double {
        let elapsed = clock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}

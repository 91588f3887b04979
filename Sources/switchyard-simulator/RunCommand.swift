import ArgumentParser
import Circuits
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `switchyard-simulator run FILE.qasm`: simulate one OpenQASM 2.0 file without any database.
///
/// Prints exactly one JSON line on standard output, so scripts (the reference-suite check, the
/// benchmark, the Qiskit Aer anchor) can drive the same engine the batch runner uses.
/// Exit status: 0 success, 64 usage error, 65 program refused (parse error or too many qubits),
/// 66 file unreadable, 70 simulation failure.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Simulate one OpenQASM 2.0 file and print the counts (or exact probabilities) as one JSON line.")

    @Argument(help: "The OpenQASM 2.0 program to simulate.")
    var file: String

    @Option(help: "Number of shots.")
    var shots: Int = 1024

    @Option(help: "Seed of the pseudo-random generator; the same seed gives the same counts.")
    var seed: UInt64 = 0

    @Flag(help: "Print the exact outcome distribution instead of sampled counts (end-measured circuits only).")
    var probabilities = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(help: "Refuse circuits with more qubits than this.")
    var maxQubits: Int = 28

    func validate() throws {
        guard shots >= 1 else { throw ValidationError("--shots must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard maxQubits >= 1 else { throw ValidationError("--max-qubits must be at least 1") }
    }

    func run() throws {
        guard let source = Self.readFile(file) else {
            Self.printError("\(file): cannot read the file")
            throw ExitCode(66)
        }
        let clock = ContinuousClock()
        let parseStart = clock.now
        let circuit: Circuit
        do {
            circuit = try OpenQASM.parse(source)
        } catch {
            for diagnostic in error.diagnostics { Self.printError("\(file):\(diagnostic.line):\(diagnostic.column): error: \(diagnostic.message)") }
            if error.isTruncated { Self.printError("\(file): further errors not reported") }
            throw ExitCode(65)
        }
        let parseSeconds = Self.seconds(clock.now - parseStart)
        let simulator = Simulator(options: SimulationOptions(maxQubits: maxQubits, threads: threads ?? Simulator.availableCores))
        do {
            if probabilities {
                let distribution = try simulator.probabilities(circuit)
                var fields = [("probabilities", Self.jsonObject(distribution.outcomes.map { ($0.key, "\($0.probability)") }))]
                fields += [("seconds", "\(distribution.seconds)"), ("parse_seconds", "\(parseSeconds)"),
                           ("qubits", "\(circuit.qubitCount)"), ("outcomes", "\(distribution.outcomes.count)")]
                print(Self.jsonObject(fields))
            } else {
                let result = try simulator.run(circuit, shots: shots, seed: seed)
                let counts = result.counts.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }
                let statistics = circuit.statistics
                print(Self.jsonObject([
                    ("counts", Self.jsonObject(counts)),
                    ("seconds", "\(result.seconds)"),
                    ("allocation_seconds", "\(result.allocationSeconds)"),
                    ("parse_seconds", "\(parseSeconds)"),
                    ("method", Self.jsonString(result.method.rawValue)),
                    ("shots", "\(result.shots)"),
                    ("seed", "\(result.seed)"),
                    ("qubits", "\(result.qubits)"),
                    ("clbits", "\(statistics.clbits)"),
                    ("gates", "\(statistics.gates)"),
                    ("depth", "\(statistics.depth)"),
                    ("threads", "\(result.threads)"),
                    ("passes", "\(result.passes)"),
                ]))
            }
        } catch {
            Self.printError("\(file): error: \(error)")
            switch error {
            case .tooManyQubits, .notEndMeasured: throw ExitCode(65)
            case .invalidShots: throw ExitCode(64)
            case .stopped, .outOfMemory: throw ExitCode(70)
            }
        }
    }

    /// Reads a whole file with the C library; Foundation is kept out of this binary on purpose.
    private static func readFile(_ path: String) -> String? {
        guard let handle = fopen(path, "rb") else { return nil }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let read = fread(&buffer, 1, buffer.count, handle)
            if read > 0 { bytes.append(contentsOf: buffer[..<read]) }
            if read < buffer.count {
                if ferror(handle) != 0 { return nil }
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes to file descriptor 2 directly: the C `stderr` global is not concurrency-safe in Swift 6.
    private static func printError(_ message: String) {
        let line = Array((message + "\n").utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// A JSON object from already-encoded values.
    private static func jsonObject(_ fields: [(String, String)]) -> String {
        "{" + fields.map { jsonString($0.0) + ": " + $0.1 }.joined(separator: ", ") + "}"
    }

    private static func jsonString(_ text: String) -> String {
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }
}

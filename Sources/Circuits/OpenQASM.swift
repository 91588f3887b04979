/// Reading and writing OpenQASM 2.0 programs.
///
/// The entry point for turning user-submitted text into a `Circuit` and back; everything else in
/// the library works on `Circuit` values.
public enum OpenQASM {
    /// Parses an OpenQASM 2.0 program into a circuit with all user gates expanded.
    ///
    /// `include "qelib1.inc";` makes Qiskit's whole `qelib1.inc` available (built in; no file is
    /// read). Errors carry line and column; parsing recovers at statement boundaries to report
    /// several at once. `limits` bounds the work a hostile program can cause.
    public static func parse(_ source: String, limits: ParseLimits = ParseLimits()) throws(ParseFailure) -> Circuit {
        var parser = OpenQASMParser(source: source, limits: limits)
        return try parser.parse()
    }

    /// Writes a circuit as an OpenQASM 2.0 program that `parse` reads back to an equal circuit.
    ///
    /// Parameters are printed with enough digits to round-trip exactly. The program includes
    /// `qelib1.inc`; when every gate is in the original library (`StandardGate.isInOriginalLibrary`)
    /// `qiskit.qasm2.loads` accepts it without extra options.
    public static func write(_ circuit: Circuit) -> String {
        OpenQASMWriter(circuit: circuit).write()
    }
}

/// Formats circuits as OpenQASM 2.0 text.
struct OpenQASMWriter {
    let circuit: Circuit
    private let qubitNames: [String]
    private let clbitNames: [String]

    init(circuit: Circuit) {
        self.circuit = circuit
        qubitNames = circuit.quantumRegisters.flatMap { register in (0 ..< register.size).map { "\(register.name)[\($0)]" } }
        clbitNames = circuit.classicalRegisters.flatMap { register in (0 ..< register.size).map { "\(register.name)[\($0)]" } }
    }

    func write() -> String {
        var text = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\n"
        for register in circuit.quantumRegisters { text += "qreg \(register.name)[\(register.size)];\n" }
        for register in circuit.classicalRegisters { text += "creg \(register.name)[\(register.size)];\n" }
        for instruction in circuit.instructions {
            if let condition = instruction.condition {
                text += "if(\(circuit.classicalRegisters[condition.register].name)==\(condition.value)) "
            }
            text += statement(instruction.operation)
            text += "\n"
        }
        return text
    }

    private func statement(_ operation: Operation) -> String {
        switch operation {
        case .gate(let application):
            let parameters = application.parameters.isEmpty
                ? "" : "(" + application.parameters.map(Self.format).joined(separator: ",") + ")"
            return application.gate.name + parameters + " " + application.qubits.map { qubitNames[$0] }.joined(separator: ",") + ";"
        case .measure(let qubit, let clbit):
            return "measure \(qubitNames[qubit]) -> \(clbitNames[clbit]);"
        case .reset(let qubit):
            return "reset \(qubitNames[qubit]);"
        case .barrier(let qubits):
            return "barrier " + qubits.map { qubitNames[$0] }.joined(separator: ",") + ";"
        }
    }

    /// The shortest decimal that reads back as the same double, always with a decimal point
    /// because OpenQASM 2's real literals require one.
    static func format(_ value: Double) -> String {
        var text = "\(value)"
        if !text.contains(".") {
            if let exponent = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
                text.insert(contentsOf: ".0", at: exponent)
            } else {
                text += ".0"
            }
        }
        return text
    }
}

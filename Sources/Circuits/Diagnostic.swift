/// A problem found in an OpenQASM program, with the position where it was found.
public struct Diagnostic: Sendable, Hashable, Error, CustomStringConvertible {
    /// 1-based line number.
    public var line: Int
    /// 1-based column, counted in Unicode scalars from the start of the line.
    public var column: Int
    /// What is wrong, in words meant for the program's author.
    public var message: String

    /// Creates a diagnostic.
    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    /// `line:column: message`, the form compilers use so editors can jump to it.
    public var description: String { "\(line):\(column): \(message)" }
}

/// The error thrown when a program cannot be turned into a circuit.
///
/// Parsing recovers at statement boundaries, so one failure can carry several diagnostics, in
/// source order, up to `ParseLimits.maxDiagnostics`.
public struct ParseFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The problems found, in the order they were found.
    public var diagnostics: [Diagnostic]
    /// Whether parsing stopped early because the diagnostic cap was reached.
    public var isTruncated: Bool

    /// Creates a failure from its diagnostics.
    public init(diagnostics: [Diagnostic], isTruncated: Bool = false) {
        self.diagnostics = diagnostics
        self.isTruncated = isTruncated
    }

    /// One diagnostic per line, with a note when more were suppressed.
    public var description: String {
        let lines = diagnostics.map(\.description)
        return (lines + (isTruncated ? ["(further errors not reported)"] : [])).joined(separator: "\n")
    }
}

/// Bounds that keep parsing hostile programs fast and small.
///
/// Every bound is checked before the work it guards is done, so an oversized program is refused in
/// time proportional to its text, never to the circuit it describes.
public struct ParseLimits: Sendable, Hashable {
    /// Largest accepted program text, in bytes of UTF-8.
    public var maxProgramBytes: Int = 16 << 20
    /// Largest total number of qubits over all `qreg` declarations.
    public var maxQubits: Int = 1024
    /// Largest total number of classical bits over all `creg` declarations.
    public var maxClbits: Int = 1024
    /// Largest number of instructions after expanding user gates and register broadcasts.
    public var maxInstructions: Int = 500_000
    /// Deepest nesting of an expression tree (parentheses, operators, function calls).
    public var maxExpressionDepth: Int = 64
    /// Deepest chain of gate definitions calling each other.
    public var maxGateNestingDepth: Int = 64
    /// Largest amount of work the expansion may take: every gate call, parameter term and barrier operand it goes
    /// through counts, also when it produces no instruction (a gate with an empty body), so a few lines cannot ask
    /// for 2^60 calls.
    public var maxExpansionWork: Int = 5_000_000
    /// Most parameters, and most qubit arguments, one gate definition may declare.
    public var maxGateArguments: Int = 64
    /// Longest identifier, in bytes.
    public var maxIdentifierBytes: Int = 256
    /// The parser stops after this many diagnostics.
    public var maxDiagnostics: Int = 20

    /// The defaults: room for any realistic program, refusal for abusive ones.
    public init() {}
}

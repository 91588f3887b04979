/// A user `gate` definition, kept in a form that expands quickly and predictably.
struct GateDefinition: Sendable {
    /// What a body statement calls.
    enum Callee: Sendable {
        case standard(StandardGate)
        /// Index into the parser's list of definitions; always an earlier one.
        case user(Int)
    }

    /// One statement of the body, with operands as positions in the definition's qubit list.
    enum Statement: Sendable {
        case call(Callee, arguments: [ParameterExpression], qubits: [Int], line: Int, column: Int)
        case barrier(qubits: [Int])
    }

    var name: String
    var parameterCount: Int
    var qubitCount: Int
    var body: [Statement]
    /// Instructions one call produces once fully expanded, saturating at `Int.max`.
    var expandedSize: Int
    /// Work one call takes to expand, at least 1, saturating at `Int.max`: each statement of the body counts
    /// 1, plus its parameter terms and qubit operands, plus its callee's work (`ParseLimits.maxExpansionWork`).
    var expansionWork: Int
    /// Length of the longest chain of definitions below this one, itself included.
    var nestingDepth: Int
    /// False when the body had errors; calls to it are then skipped silently, since the
    /// definition's own diagnostics already explain the failure.
    var isValid: Bool
}

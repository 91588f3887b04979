/// A named register of qubits or classical bits.
///
/// Operations address bits by their global index; a register is the contiguous slice
/// `offset ..< offset + size` of that numbering, in declaration order.
public struct Register: Sendable, Hashable, Codable {
    /// The register's name as declared in the program.
    public var name: String
    /// The number of bits.
    public var size: Int
    /// The global index of the register's bit 0.
    public var offset: Int

    /// Creates a register; `offset` is the global index of its first bit.
    public init(name: String, size: Int, offset: Int) {
        self.name = name
        self.size = size
        self.offset = offset
    }

    /// The global indices of the register's bits, bit 0 first.
    public var indices: Range<Int> { offset ..< offset + size }
}

/// One standard gate applied to specific qubits with bound parameter values.
public struct GateApplication: Sendable, Hashable {
    /// Which gate.
    public var gate: StandardGate
    /// Its parameter values, as many as `gate.parameterCount`.
    public var parameters: [Double]
    /// Its operands as global qubit indices, as many as `gate.qubitCount`, all distinct.
    public var qubits: [Int]

    /// Creates an application; the counts must match the gate's signature.
    public init(_ gate: StandardGate, _ parameters: [Double] = [], qubits: [Int]) {
        precondition(parameters.count == gate.parameterCount, "\(gate.name) takes \(gate.parameterCount) parameters")
        precondition(qubits.count == gate.qubitCount, "\(gate.name) acts on \(gate.qubitCount) qubits")
        self.gate = gate
        self.parameters = parameters
        self.qubits = qubits
    }

    /// The gate's unitary matrix (row-major, operand 0 is the least significant index bit).
    public var matrix: [Complex] { gate.matrix(parameters) }
}

/// What an instruction does, before any classical condition.
public enum Operation: Sendable, Hashable {
    /// A unitary gate.
    case gate(GateApplication)
    /// Measure a qubit in the computational basis and store the result in a classical bit.
    case measure(qubit: Int, clbit: Int)
    /// Reset a qubit to |0⟩.
    case reset(qubit: Int)
    /// A scheduling fence; it has no effect on the state but stops optimizations from crossing it.
    case barrier(qubits: [Int])

    /// The qubits the operation touches.
    public var qubits: [Int] {
        switch self {
        case .gate(let application): application.qubits
        case .measure(let qubit, _), .reset(let qubit): [qubit]
        case .barrier(let qubits): qubits
        }
    }

    /// The name used in statistics and in OpenQASM (`measure`, `reset`, `barrier` or the gate's name).
    public var name: String {
        switch self {
        case .gate(let application): application.gate.name
        case .measure: "measure"
        case .reset: "reset"
        case .barrier: "barrier"
        }
    }
}

/// The OpenQASM 2 condition `if (register == value)`.
public struct Condition: Sendable, Hashable {
    /// Index into `Circuit.classicalRegisters`.
    public var register: Int
    /// The value the register must hold, bit 0 of the register being the least significant bit.
    public var value: UInt64

    /// Creates a condition on the register with that index.
    public init(register: Int, value: UInt64) {
        self.register = register
        self.value = value
    }
}

/// One step of a circuit: an operation, optionally guarded by a classical condition.
public struct Instruction: Sendable, Hashable {
    /// What to do.
    public var operation: Operation
    /// When set, the operation happens only in shots where the condition holds.
    public var condition: Condition?

    /// Creates an instruction.
    public init(_ operation: Operation, condition: Condition? = nil) {
        self.operation = operation
        self.condition = condition
    }
}

/// A quantum circuit: registers plus a flat list of instructions on global bit indices.
///
/// User-defined gates are already expanded into standard gates, so every consumer (simulator,
/// compiler, writer) deals with one small, closed set of operations.
public struct Circuit: Sendable, Hashable {
    /// Quantum registers in declaration order.
    public private(set) var quantumRegisters: [Register] = []
    /// Classical registers in declaration order; the counts key puts the last one leftmost.
    public private(set) var classicalRegisters: [Register] = []
    /// The instructions in program order.
    public private(set) var instructions: [Instruction] = []

    /// Creates an empty circuit without registers.
    public init() {}

    /// Creates a circuit with one quantum register `q` and, when `clbits > 0`, one classical register `c`.
    public init(qubits: Int, clbits: Int = 0) {
        if qubits > 0 { addQuantumRegister(name: "q", size: qubits) }
        if clbits > 0 { addClassicalRegister(name: "c", size: clbits) }
    }

    /// The total number of qubits over all quantum registers.
    public var qubitCount: Int { quantumRegisters.last.map { $0.offset + $0.size } ?? 0 }

    /// The total number of classical bits over all classical registers.
    public var clbitCount: Int { classicalRegisters.last.map { $0.offset + $0.size } ?? 0 }

    /// Appends a quantum register after the existing ones and returns its global indices.
    @discardableResult
    public mutating func addQuantumRegister(name: String, size: Int) -> Range<Int> {
        precondition(size > 0, "register size must be positive")
        let register = Register(name: name, size: size, offset: qubitCount)
        quantumRegisters.append(register)
        return register.indices
    }

    /// Appends a classical register after the existing ones and returns its global indices.
    @discardableResult
    public mutating func addClassicalRegister(name: String, size: Int) -> Range<Int> {
        precondition(size > 0, "register size must be positive")
        let register = Register(name: name, size: size, offset: clbitCount)
        classicalRegisters.append(register)
        return register.indices
    }

    /// Appends an instruction; its bit indices must exist in the circuit.
    public mutating func append(_ instruction: Instruction) {
        precondition(instruction.operation.qubits.allSatisfy { $0 >= 0 && $0 < qubitCount }, "qubit index out of range")
        if case .measure(_, let clbit) = instruction.operation {
            precondition(clbit >= 0 && clbit < clbitCount, "clbit index out of range")
        }
        if let condition = instruction.condition {
            precondition(condition.register >= 0 && condition.register < classicalRegisters.count, "no such register")
        }
        instructions.append(instruction)
    }

    /// Appends an unconditional operation.
    public mutating func append(_ operation: Operation) {
        append(Instruction(operation))
    }

    /// Appends a standard gate on the given qubits.
    public mutating func append(_ gate: StandardGate, _ parameters: [Double] = [], on qubits: Int...) {
        append(.gate(GateApplication(gate, parameters, qubits: qubits)))
    }

    /// A copy with the same registers and no instructions, for passes that rebuild the list.
    public func emptyCopy() -> Circuit {
        var copy = self
        copy.instructions = []
        return copy
    }

    /// A copy whose quantum registers are replaced by a single register `q` of `qubits` qubits.
    ///
    /// Routing onto a device changes the qubit count, and the device's qubits do not belong to the
    /// program's registers any more; the classical registers (and so the counts keys) stay.
    func withSingleQuantumRegister(qubits: Int) -> Circuit {
        var copy = Circuit()
        copy.addQuantumRegister(name: "q", size: qubits)
        copy.classicalRegisters = classicalRegisters
        return copy
    }

    /// Replaces all instructions at once; internal passes that already validated them use this.
    mutating func replaceInstructions(_ newInstructions: [Instruction]) {
        instructions = newInstructions
    }

    /// Appends without validation, for the parser and passes that construct valid indices.
    mutating func appendUnchecked(_ instruction: Instruction) {
        instructions.append(instruction)
    }

    /// Reserves room for the expected number of instructions.
    mutating func reserveCapacity(_ count: Int) {
        instructions.reserveCapacity(count)
    }
}

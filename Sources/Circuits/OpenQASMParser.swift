/// Turns OpenQASM 2.0 source into a `Circuit`, expanding user gates and register broadcasts.
///
/// A recursive-descent parser with one token of lookahead. Syntax errors are recovered from by
/// skipping to the end of the statement; semantic errors are reported after the statement has been
/// read completely, so the next statement starts cleanly either way.
struct OpenQASMParser {
    private enum GateSymbol {
        case standard(StandardGate)
        case user(Int)
    }

    private struct Argument {
        var name: String
        var index: Int?
        var token: Token
    }

    private let limits: ParseLimits
    private let sourceByteCount: Int
    private var lexer: Lexer
    private var current: Token
    private var diagnostics: [Diagnostic] = []
    private var isTruncated = false
    private var circuit = Circuit()
    private var quantumRegisters: [String: Register] = [:]
    private var classicalRegisters: [String: Int] = [:]
    private var gates = Self.builtinGates
    private var definitions: [GateDefinition] = []
    /// Names whose declaration failed; later uses are skipped silently to avoid cascades of errors.
    private var poisonedNames: Set<String> = []
    private var statementCount = 0
    /// Whether the token before `current` ended a statement (`;` or `}`).
    private var previousWasStatementEnd = false
    /// Expansion work reserved so far (`ParseLimits.maxExpansionWork`).
    private var expansionWork = 0

    private static let builtinGates: [String: GateSymbol] = ["U": .standard(.U), "CX": .standard(.CX)]
    /// The builtins and everything `qelib1.inc` defines, built once: most programs include it first, and then
    /// take this table as it is.
    private static let includedGates: [String: GateSymbol] = Dictionary(
        uniqueKeysWithValues: StandardGate.allCases.map { ($0.name, .standard($0)) } + [("c3sx", .standard(.c3sqrtx))])

    private static let reservedWords: Set<String> = [
        "OPENQASM", "include", "qreg", "creg", "gate", "opaque", "measure", "reset", "barrier", "if", "pi", "U", "CX",
    ]

    init(source: String, limits: ParseLimits) {
        self.limits = limits
        sourceByteCount = source.utf8.count
        lexer = Lexer(
            source: sourceByteCount > limits.maxProgramBytes ? "" : source, maxIdentifierBytes: limits.maxIdentifierBytes)
        current = Token(kind: .end, line: 1, column: 1)
    }

    mutating func parse() throws(ParseFailure) -> Circuit {
        if sourceByteCount > limits.maxProgramBytes {
            throw ParseFailure(diagnostics: [Diagnostic(line: 1, column: 1, message:
                "program is \(sourceByteCount) bytes, more than the limit of \(limits.maxProgramBytes)")])
        }
        advance()
        while current.kind != .end {
            if diagnostics.count >= limits.maxDiagnostics {
                isTruncated = true
                break
            }
            let start = (current.line, current.column)
            do {
                try parseStatement()
            } catch {
                report(error)
                // Semantic errors are found after the whole statement was read; only a statement
                // left unfinished (or not started) needs skipping.
                if !previousWasStatementEnd || (current.line, current.column) == start { synchronize() }
            }
            statementCount += 1
        }
        if !diagnostics.isEmpty {
            throw ParseFailure(diagnostics: Array(diagnostics.prefix(limits.maxDiagnostics)), isTruncated: isTruncated)
        }
        return circuit
    }

    /// The gate definitions of a library text (gate statements only), with callees by name.
    ///
    /// Used to read the built-in `qelib1.inc`; the text is part of the library, so it always parses.
    static func definitions(in library: String) -> [(name: String, body: [(name: String, arguments: [ParameterExpression], qubits: [Int])])] {
        var parser = OpenQASMParser(source: library, limits: ParseLimits())
        _ = try? parser.parse()
        precondition(parser.diagnostics.isEmpty, "built-in library does not parse: \(parser.diagnostics)")
        return parser.definitions.map { definition in
            let body = definition.body.compactMap { statement -> (name: String, arguments: [ParameterExpression], qubits: [Int])? in
                guard case .call(let callee, let arguments, let qubits, _, _) = statement else { return nil }
                switch callee {
                case .standard(let gate): return (gate.name, arguments, qubits)
                case .user(let index): return (parser.definitions[index].name, arguments, qubits)
                }
            }
            return (definition.name, body)
        }
    }

    // MARK: - Token helpers

    private mutating func advance() {
        previousWasStatementEnd = current.kind == .symbol(.semicolon) || current.kind == .symbol(.rightBrace)
        current = lexer.next()
    }

    private func error(_ message: String, at token: Token) -> Diagnostic {
        Diagnostic(line: token.line, column: token.column, message: message)
    }

    private mutating func report(_ diagnostic: Diagnostic) {
        if diagnostics.count < limits.maxDiagnostics {
            diagnostics.append(diagnostic)
        } else {
            isTruncated = true
        }
    }

    private func isSymbol(_ symbol: Token.Symbol) -> Bool {
        current.kind == .symbol(symbol)
    }

    private mutating func expect(_ symbol: Token.Symbol, _ context: String) throws(Diagnostic) {
        guard isSymbol(symbol) else {
            throw error("expected '\(symbol.rawValue)' \(context), found \(current.spelling)", at: current)
        }
        advance()
    }

    private mutating func expectIdentifier(_ what: @autoclosure () -> String) throws(Diagnostic) -> (String, Token) {
        guard case .identifier(let name) = current.kind else {
            throw error("expected \(what()), found \(current.spelling)", at: current)
        }
        let token = current
        advance()
        return (name, token)
    }

    private mutating func expectInteger(_ what: String) throws(Diagnostic) -> (UInt64, Token) {
        guard case .integer(let value) = current.kind else {
            throw error("expected \(what) (a non-negative integer), found \(current.spelling)", at: current)
        }
        guard let value else { throw error("\(what) is too large", at: current) }
        let token = current
        advance()
        return (value, token)
    }

    /// Skips to just after the end of the broken statement: its `;`, or the `}` closing a block it opened.
    private mutating func synchronize() {
        var braceDepth = 0
        while current.kind != .end {
            switch current.kind {
            case .symbol(.leftBrace):
                braceDepth += 1
            case .symbol(.rightBrace):
                braceDepth -= 1
                if braceDepth <= 0 {
                    advance()
                    return
                }
            case .symbol(.semicolon) where braceDepth == 0:
                advance()
                return
            default:
                break
            }
            advance()
        }
    }

    // MARK: - Statements

    private mutating func parseStatement() throws(Diagnostic) {
        guard case .identifier(let word) = current.kind else {
            if case .invalid(let text) = current.kind { throw error(text, at: current) }
            throw error("expected a statement, found \(current.spelling)", at: current)
        }
        switch word {
        case "OPENQASM": try parseVersion()
        case "include": try parseInclude()
        case "qreg", "creg": try parseRegisterDeclaration(isQuantum: word == "qreg")
        case "gate": try parseGateDefinition()
        case "opaque": try parseOpaque()
        case "measure", "reset": try parseQuantumOperation(condition: nil)
        case "barrier": try parseBarrier()
        case "if": try parseConditional()
        default: try parseGateCall(condition: nil)
        }
    }

    private mutating func parseVersion() throws(Diagnostic) {
        let keyword = current
        advance()
        let versionToken = current
        let version: Double
        switch current.kind {
        case .real(let value): version = value
        case .integer(let value?): version = Double(value)
        default: throw error("expected a version number after OPENQASM, found \(current.spelling)", at: current)
        }
        advance()
        try expect(.semicolon, "after the version")
        if statementCount != 0 {
            throw error("the OPENQASM version statement must come first", at: keyword)
        }
        if version != 2 {
            throw error("OpenQASM \(version) is not supported; only OpenQASM 2.0 is", at: versionToken)
        }
    }

    private mutating func parseInclude() throws(Diagnostic) {
        advance()
        guard case .string(let file) = current.kind else {
            throw error("expected a file name in quotes after include, found \(current.spelling)", at: current)
        }
        let fileToken = current
        advance()
        try expect(.semicolon, "after the include")
        guard file == "qelib1.inc" else {
            throw error("cannot include \"\(file)\": only \"qelib1.inc\" is available", at: fileToken)
        }
        // A program's own definitions of the newer gates, made before the include, win.
        gates = gates.count == Self.builtinGates.count
            ? Self.includedGates : gates.merging(Self.includedGates) { own, _ in own }
    }

    private mutating func parseRegisterDeclaration(isQuantum: Bool) throws(Diagnostic) {
        let kind = isQuantum ? "qreg" : "creg"
        advance()
        let (name, nameToken) = try expectIdentifier("a register name after \(kind)")
        try expect(.leftBracket, "after the register name")
        let (size, sizeToken) = try expectInteger("a register size")
        try expect(.rightBracket, "after the register size")
        try expect(.semicolon, "after the register declaration")

        if quantumRegisters[name] != nil || classicalRegisters[name] != nil || poisonedNames.contains(name) {
            throw error("register '\(name)' is already declared", at: nameToken)
        }
        if Self.reservedWords.contains(name) {
            throw error("'\(name)' is a reserved word and cannot name a register", at: nameToken)
        }
        let limit = isQuantum ? limits.maxQubits : limits.maxClbits
        let existing = isQuantum ? circuit.qubitCount : circuit.clbitCount
        guard size > 0 else {
            poisonedNames.insert(name)
            throw error("register '\(name)' must have at least one bit", at: sizeToken)
        }
        guard size <= UInt64(limit - existing) else {
            poisonedNames.insert(name)
            let what = isQuantum ? "qubits" : "classical bits"
            throw error("register '\(name)' of size \(size) would exceed the limit of \(limit) \(what) in total", at: sizeToken)
        }
        if isQuantum {
            let indices = circuit.addQuantumRegister(name: name, size: Int(size))
            quantumRegisters[name] = Register(name: name, size: Int(size), offset: indices.lowerBound)
        } else {
            circuit.addClassicalRegister(name: name, size: Int(size))
            classicalRegisters[name] = circuit.classicalRegisters.count - 1
        }
    }

    private mutating func parseOpaque() throws(Diagnostic) {
        let keyword = current
        advance()
        let (name, _) = try expectIdentifier("a gate name after opaque")
        if isSymbol(.leftParen) {
            advance()
            while !isSymbol(.rightParen) {
                _ = try expectIdentifier("a parameter name")
                if isSymbol(.comma) { advance() } else { break }
            }
            try expect(.rightParen, "after the parameters")
        }
        _ = try parseIdentifierList("a qubit name")
        try expect(.semicolon, "after the opaque declaration")
        throw error("opaque gate '\(name)' is not supported: it has no definition that could be simulated", at: keyword)
    }

    private mutating func parseIdentifierList(_ what: String) throws(Diagnostic) -> [(String, Token)] {
        var names = [try expectIdentifier(what)]
        while isSymbol(.comma) {
            advance()
            names.append(try expectIdentifier(what))
        }
        return names
    }

    /// The parameter or qubit names of a gate definition, at most `ParseLimits.maxGateArguments` of them.
    private mutating func parseGateArgumentNames(_ what: String, of gate: String) throws(Diagnostic) -> [(String, Token)] {
        let names = try parseIdentifierList(what)
        if names.count > limits.maxGateArguments {
            throw error("gate '\(gate)' declares \(names.count) \(what)s, more than the limit of \(limits.maxGateArguments)", at: names[limits.maxGateArguments].1)
        }
        return names
    }

    // MARK: - Gate definitions

    private mutating func parseGateDefinition() throws(Diagnostic) {
        advance()
        let (name, nameToken) = try expectIdentifier("a gate name after gate")
        var parameterNames: [String] = []
        if isSymbol(.leftParen) {
            advance()
            if !isSymbol(.rightParen) {
                for (parameter, token) in try parseGateArgumentNames("parameter name", of: name) {
                    if parameterNames.contains(parameter) {
                        throw error("parameter '\(parameter)' is declared twice", at: token)
                    }
                    parameterNames.append(parameter)
                }
            }
            try expect(.rightParen, "after the gate's parameters")
        }
        var qubitNames: [String] = []
        for (qubit, token) in try parseGateArgumentNames("qubit name", of: name) {
            if qubitNames.contains(qubit) || parameterNames.contains(qubit) {
                throw error("'\(qubit)' is declared twice in gate '\(name)'", at: token)
            }
            qubitNames.append(qubit)
        }
        try expect(.leftBrace, "to open the body of gate '\(name)'")

        var body: [GateDefinition.Statement] = []
        var expandedSize = 0
        var work = 0
        var nestingDepth = 1
        var isValid = true
        while !isSymbol(.rightBrace) {
            if current.kind == .end {
                throw error("gate '\(name)' has no closing '}'", at: current)
            }
            do {
                let statement = try parseGateBodyStatement(gateName: name, parameterNames: parameterNames, qubitNames: qubitNames)
                let (size, statementWork, depth) = cost(of: statement)
                expandedSize = expandedSize.addingReportingOverflow(size).overflow ? .max : expandedSize + size
                work = work.addingReportingOverflow(statementWork).overflow ? .max : work + statementWork
                nestingDepth = max(nestingDepth, depth + 1)
                body.append(statement)
            } catch {
                isValid = false
                report(error)
                skipToEndOfBodyStatement()
            }
        }
        advance()

        var redefinitionError: Diagnostic?
        if Self.reservedWords.contains(name) {
            redefinitionError = error("'\(name)' is a reserved word and cannot name a gate", at: nameToken)
        } else if let existing = gates[name] {
            switch existing {
            case .user:
                redefinitionError = error("gate '\(name)' is already defined", at: nameToken)
            case .standard(let gate) where gate.isInOriginalLibrary:
                redefinitionError = error("gate '\(name)' is already defined by qelib1.inc", at: nameToken)
            case .standard:
                // Programs written for the original qelib1.inc define the newer gates themselves;
                // their own definition then wins.
                break
            }
        }
        if nestingDepth > limits.maxGateNestingDepth {
            isValid = false
            report(error("gate '\(name)' nests gate definitions \(nestingDepth) deep, more than the limit of \(limits.maxGateNestingDepth)", at: nameToken))
        }
        if let redefinitionError { throw redefinitionError }
        definitions.append(GateDefinition(
            name: name, parameterCount: parameterNames.count, qubitCount: qubitNames.count, body: body,
            expandedSize: expandedSize, expansionWork: max(1, work), nestingDepth: nestingDepth, isValid: isValid))
        gates[name] = .user(definitions.count - 1)
    }

    private func cost(of statement: GateDefinition.Statement) -> (size: Int, work: Int, depth: Int) {
        switch statement {
        case .barrier(let qubits):
            return (1, 1 + qubits.count, 0)
        case .call(let callee, let arguments, let qubits, _, _):
            let own = arguments.reduce(1 + qubits.count) { $0 + $1.nodeCount }
            switch callee {
            case .standard:
                return (1, own, 0)
            case .user(let index):
                let definition = definitions[index]
                let (work, overflow) = own.addingReportingOverflow(definition.expansionWork)
                return (definition.expandedSize, overflow ? .max : work, definition.nestingDepth)
            }
        }
    }

    private mutating func skipToEndOfBodyStatement() {
        while current.kind != .end, !isSymbol(.rightBrace) {
            if isSymbol(.semicolon) {
                advance()
                return
            }
            advance()
        }
    }

    private mutating func parseGateBodyStatement(
        gateName: String, parameterNames: [String], qubitNames: [String]
    ) throws(Diagnostic) -> GateDefinition.Statement {
        let (word, wordToken) = try expectIdentifier("a gate call in the body of '\(gateName)'")
        if word == "barrier" {
            var qubits: [Int] = []
            for (qubit, token) in try parseIdentifierList("a qubit name") {
                guard let position = qubitNames.firstIndex(of: qubit) else {
                    throw error("'\(qubit)' is not a qubit argument of gate '\(gateName)'", at: token)
                }
                if !qubits.contains(position) { qubits.append(position) }
            }
            try expect(.semicolon, "after barrier")
            return .barrier(qubits: qubits)
        }
        if ["measure", "reset", "if", "qreg", "creg", "gate", "opaque", "include"].contains(word) {
            throw error("'\(word)' is not allowed inside a gate definition", at: wordToken)
        }
        var arguments: [(ParameterExpression, Token)] = []
        if isSymbol(.leftParen) {
            advance()
            arguments = try parseExpressionList(parameterNames: parameterNames)
            try expect(.rightParen, "after the gate's arguments")
        }
        var qubits: [Int] = []
        let qubitList = try parseIdentifierList("a qubit name")
        for (qubit, token) in qubitList {
            if isSymbol(.leftBracket) { throw error("qubits inside a gate body cannot be indexed", at: current) }
            guard let position = qubitNames.firstIndex(of: qubit) else {
                throw error("'\(qubit)' is not a qubit argument of gate '\(gateName)'", at: token)
            }
            if qubits.contains(position) {
                throw error("qubit '\(qubit)' is used twice in one gate call", at: token)
            }
            qubits.append(position)
        }
        if word == gateName {
            throw error("gate '\(gateName)' calls itself; recursive gate definitions are not allowed", at: wordToken)
        }
        let callee: GateDefinition.Callee
        let expectedParameters: Int
        let expectedQubits: Int
        switch gates[word] {
        case .standard(let gate):
            callee = .standard(gate)
            expectedParameters = gate.parameterCount
            expectedQubits = gate.qubitCount
        case .user(let index):
            callee = .user(index)
            expectedParameters = definitions[index].parameterCount
            expectedQubits = definitions[index].qubitCount
        case nil:
            throw unknownGate(word, at: wordToken)
        }
        try checkSignature(word, at: wordToken, parameters: arguments.count, expectedParameters: expectedParameters,
                           qubits: qubits.count, expectedQubits: expectedQubits)
        // Last, so that a statement found wrong above is skipped up to its own ';', not the next statement's.
        try expect(.semicolon, "after the gate call")
        return .call(callee, arguments: arguments.map(\.0), qubits: qubits, line: wordToken.line, column: wordToken.column)
    }

    private func unknownGate(_ name: String, at token: Token) -> Diagnostic {
        if StandardGate(name: name) != nil {
            return error("gate '\(name)' is not defined; it is part of qelib1.inc, so add 'include \"qelib1.inc\";'", at: token)
        }
        return error("unknown gate '\(name)'", at: token)
    }

    private func checkSignature(
        _ name: String, at token: Token, parameters: Int, expectedParameters: Int, qubits: Int, expectedQubits: Int
    ) throws(Diagnostic) {
        if parameters != expectedParameters {
            throw error("gate '\(name)' takes \(expectedParameters) parameter\(expectedParameters == 1 ? "" : "s"), got \(parameters)", at: token)
        }
        if qubits != expectedQubits {
            throw error("gate '\(name)' acts on \(expectedQubits) qubit\(expectedQubits == 1 ? "" : "s"), got \(qubits)", at: token)
        }
    }

    // MARK: - Expressions

    private mutating func parseExpressionList(parameterNames: [String]) throws(Diagnostic) -> [(ParameterExpression, Token)] {
        var list: [(ParameterExpression, Token)] = []
        if isSymbol(.rightParen) { return list }
        repeat {
            if !list.isEmpty { advance() }
            let token = current
            let (expression, _) = try parseAdditive(parameterNames, depth: 1)
            list.append((expression, token))
        } while isSymbol(.comma)
        return list
    }

    private typealias Parsed = (expression: ParameterExpression, depth: Int)

    private func checkDepth(_ depth: Int, at token: Token) throws(Diagnostic) {
        if depth > limits.maxExpressionDepth {
            throw error("expression is nested more than \(limits.maxExpressionDepth) levels deep", at: token)
        }
    }

    private mutating func parseAdditive(_ names: [String], depth: Int) throws(Diagnostic) -> Parsed {
        try checkDepth(depth, at: current)
        var lhs = try parseMultiplicative(names, depth: depth)
        while isSymbol(.plus) || isSymbol(.minus) {
            let op: ParameterExpression.BinaryOperator = isSymbol(.plus) ? .add : .subtract
            let token = current
            advance()
            let rhs = try parseMultiplicative(names, depth: depth)
            lhs = combine(op, lhs, rhs)
            try checkDepth(lhs.depth, at: token)
        }
        return lhs
    }

    private mutating func parseMultiplicative(_ names: [String], depth: Int) throws(Diagnostic) -> Parsed {
        var lhs = try parseUnary(names, depth: depth)
        while isSymbol(.star) || isSymbol(.slash) {
            let op: ParameterExpression.BinaryOperator = isSymbol(.star) ? .multiply : .divide
            let token = current
            advance()
            let rhs = try parseUnary(names, depth: depth)
            lhs = combine(op, lhs, rhs)
            try checkDepth(lhs.depth, at: token)
        }
        return lhs
    }

    private func combine(_ op: ParameterExpression.BinaryOperator, _ lhs: Parsed, _ rhs: Parsed) -> Parsed {
        let expression = ParameterExpression.combined(op, lhs.expression, rhs.expression)
        if case .number = expression { return (expression, 1) }
        return (expression, max(lhs.depth, rhs.depth) + 1)
    }

    private mutating func parseUnary(_ names: [String], depth: Int) throws(Diagnostic) -> Parsed {
        try checkDepth(depth, at: current)
        if isSymbol(.minus) || isSymbol(.plus) {
            let negate = isSymbol(.minus)
            advance()
            let operand = try parseUnary(names, depth: depth + 1)
            guard negate else { return operand }
            let expression = ParameterExpression.negated(operand.expression)
            if case .number = expression { return (expression, 1) }
            return (expression, operand.depth + 1)
        }
        let base = try parsePrimary(names, depth: depth)
        if isSymbol(.caret) {
            let token = current
            advance()
            let exponent = try parseUnary(names, depth: depth + 1)
            let result = combine(.power, base, exponent)
            try checkDepth(result.depth, at: token)
            return result
        }
        return base
    }

    private mutating func parsePrimary(_ names: [String], depth: Int) throws(Diagnostic) -> Parsed {
        let token = current
        switch current.kind {
        case .real(let value):
            advance()
            return (.number(value), 1)
        case .integer(let value):
            advance()
            guard let value else { throw error("integer literal is too large", at: token) }
            return (.number(Double(value)), 1)
        case .symbol(.leftParen):
            advance()
            let inner = try parseAdditive(names, depth: depth + 1)
            try expect(.rightParen, "to close the parenthesis")
            return inner
        case .identifier(let name):
            advance()
            if name == "pi" { return (.number(.pi), 1) }
            if let function = ParameterExpression.MathFunction(rawValue: name), isSymbol(.leftParen) {
                advance()
                let operand = try parseAdditive(names, depth: depth + 1)
                try expect(.rightParen, "after the argument of \(name)")
                let expression = ParameterExpression.applied(function, operand.expression)
                if case .number = expression { return (expression, 1) }
                return (expression, operand.depth + 1)
            }
            if let index = names.firstIndex(of: name) { return (.parameter(index), 1) }
            throw error(names.isEmpty ? "unknown identifier '\(name)' in expression" : "'\(name)' is not a parameter of this gate", at: token)
        case .invalid(let text):
            throw error(text, at: token)
        default:
            throw error("expected an expression, found \(current.spelling)", at: token)
        }
    }

    // MARK: - Quantum operations

    private mutating func parseArgument() throws(Diagnostic) -> Argument {
        let (name, token) = try expectIdentifier("a register name")
        var index: Int?
        if isSymbol(.leftBracket) {
            advance()
            let (value, valueToken) = try expectInteger("an index")
            guard value <= UInt64(Int32.max) else { throw error("index \(value) is out of range", at: valueToken) }
            index = Int(value)
            try expect(.rightBracket, "after the index")
        }
        return Argument(name: name, index: index, token: token)
    }

    private mutating func parseArgumentList() throws(Diagnostic) -> [Argument] {
        var arguments = [try parseArgument()]
        while isSymbol(.comma) {
            advance()
            arguments.append(try parseArgument())
        }
        return arguments
    }

    /// The global indices an argument names: one index, or the whole register for broadcasting.
    /// `nil` means the register's declaration already failed and the statement is to be skipped.
    private func resolveQuantum(_ argument: Argument) throws(Diagnostic) -> Range<Int>? {
        guard let register = quantumRegisters[argument.name] else {
            if poisonedNames.contains(argument.name) { return nil }
            if classicalRegisters[argument.name] != nil {
                throw error("'\(argument.name)' is a classical register; a qubit is needed here", at: argument.token)
            }
            throw error("unknown quantum register '\(argument.name)'", at: argument.token)
        }
        return try resolve(argument, in: register)
    }

    private func resolveClassical(_ argument: Argument) throws(Diagnostic) -> Range<Int>? {
        guard let registerIndex = classicalRegisters[argument.name] else {
            if poisonedNames.contains(argument.name) { return nil }
            if quantumRegisters[argument.name] != nil {
                throw error("'\(argument.name)' is a quantum register; a classical bit is needed here", at: argument.token)
            }
            throw error("unknown classical register '\(argument.name)'", at: argument.token)
        }
        return try resolve(argument, in: circuit.classicalRegisters[registerIndex])
    }

    private func resolve(_ argument: Argument, in register: Register) throws(Diagnostic) -> Range<Int> {
        guard let index = argument.index else { return register.indices }
        guard index < register.size else {
            throw error("index \(index) is out of range for register '\(register.name)' of size \(register.size)", at: argument.token)
        }
        return register.offset + index ..< register.offset + index + 1
    }

    /// The number of operations a broadcast produces: 1, or the common size of the whole registers named.
    private func broadcastWidth(_ ranges: [Range<Int>], _ arguments: [Argument]) throws(Diagnostic) -> Int {
        var width = 1
        for (range, argument) in zip(ranges, arguments) where argument.index == nil {
            if width != 1 && range.count != width {
                throw error("registers of different sizes (\(width) and \(range.count)) cannot be broadcast together", at: argument.token)
            }
            width = range.count
        }
        return width
    }

    private func element(_ range: Range<Int>, _ argument: Argument, _ step: Int) -> Int {
        argument.index == nil ? range.lowerBound + step : range.lowerBound
    }

    private mutating func reserveWork(_ count: Int, at token: Token) throws(Diagnostic) {
        let (total, overflow) = expansionWork.addingReportingOverflow(count)
        if overflow || total > limits.maxExpansionWork {
            throw error("the program takes more than \(limits.maxExpansionWork) steps to expand (gate calls, parameter terms and barrier operands)", at: token)
        }
        expansionWork = total
    }

    private mutating func reserveInstructions(_ count: Int, at token: Token) throws(Diagnostic) {
        let (total, overflow) = circuit.instructions.count.addingReportingOverflow(count)
        if overflow || total > limits.maxInstructions {
            throw error("the program expands to more than \(limits.maxInstructions) instructions", at: token)
        }
    }

    private mutating func parseQuantumOperation(condition: Condition?) throws(Diagnostic) {
        guard case .identifier(let word) = current.kind else {
            throw error("expected a quantum operation, found \(current.spelling)", at: current)
        }
        switch word {
        case "measure": try parseMeasure(condition: condition)
        case "reset": try parseReset(condition: condition)
        case "barrier", "if", "qreg", "creg", "gate", "opaque", "include", "OPENQASM":
            throw error("'\(word)' cannot be used here", at: current)
        default: try parseGateCall(condition: condition)
        }
    }

    private mutating func parseMeasure(condition: Condition?) throws(Diagnostic) {
        let keyword = current
        advance()
        let qubitArgument = try parseArgument()
        try expect(.arrow, "between the measured qubit and the classical bit")
        let clbitArgument = try parseArgument()
        try expect(.semicolon, "after measure")
        guard let qubits = try resolveQuantum(qubitArgument), let clbits = try resolveClassical(clbitArgument) else { return }
        if (qubitArgument.index == nil) != (clbitArgument.index == nil) || qubits.count != clbits.count {
            throw error("measure needs a qubit and a bit, or two registers of the same size (here \(qubits.count) and \(clbits.count))", at: keyword)
        }
        try reserveInstructions(qubits.count, at: keyword)
        for (qubit, clbit) in zip(qubits, clbits) {
            circuit.appendUnchecked(Instruction(.measure(qubit: qubit, clbit: clbit), condition: condition))
        }
    }

    private mutating func parseReset(condition: Condition?) throws(Diagnostic) {
        let keyword = current
        advance()
        let argument = try parseArgument()
        try expect(.semicolon, "after reset")
        guard let qubits = try resolveQuantum(argument) else { return }
        try reserveInstructions(qubits.count, at: keyword)
        for qubit in qubits {
            circuit.appendUnchecked(Instruction(.reset(qubit: qubit), condition: condition))
        }
    }

    private mutating func parseBarrier() throws(Diagnostic) {
        let keyword = current
        advance()
        let arguments = try parseArgumentList()
        try expect(.semicolon, "after barrier")
        var qubits: [Int] = []
        var seen: Set<Int> = []
        for argument in arguments {
            guard let range = try resolveQuantum(argument) else { return }
            for qubit in range where seen.insert(qubit).inserted { qubits.append(qubit) }
        }
        try reserveInstructions(1, at: keyword)
        try reserveWork(qubits.count, at: keyword)
        circuit.appendUnchecked(Instruction(.barrier(qubits: qubits)))
    }

    private mutating func parseConditional() throws(Diagnostic) {
        advance()
        try expect(.leftParen, "after if")
        let (name, nameToken) = try expectIdentifier("a classical register name")
        try expect(.equals, "in the condition")
        let (value, _) = try expectInteger("the compared value")
        try expect(.rightParen, "to close the condition")
        guard let registerIndex = classicalRegisters[name] else {
            if poisonedNames.contains(name) {
                try parseQuantumOperation(condition: nil)
                return
            }
            throw error(quantumRegisters[name] != nil
                ? "'\(name)' is a quantum register; conditions compare a classical register"
                : "unknown classical register '\(name)'", at: nameToken)
        }
        try parseQuantumOperation(condition: Condition(register: registerIndex, value: value))
    }

    private mutating func parseGateCall(condition: Condition?) throws(Diagnostic) {
        let (name, nameToken) = try expectIdentifier("a gate name")
        var arguments: [(ParameterExpression, Token)] = []
        if isSymbol(.leftParen) {
            advance()
            arguments = try parseExpressionList(parameterNames: [])
            try expect(.rightParen, "after the gate's arguments")
        }
        let operands = try parseArgumentList()
        try expect(.semicolon, "after the gate call")

        var values: [Double] = []
        for (expression, token) in arguments {
            let value = expression.evaluate([])
            guard value.isFinite else { throw error("parameter evaluates to \(value), not a finite number", at: token) }
            values.append(value)
        }
        let symbol: GateSymbol
        switch gates[name] {
        case .some(let found): symbol = found
        case nil:
            if poisonedNames.contains(name) { return }
            if Self.reservedWords.contains(name) { throw error("'\(name)' cannot be used as a gate", at: nameToken) }
            throw unknownGate(name, at: nameToken)
        }
        let size: Int
        let work: Int
        switch symbol {
        case .standard(let gate):
            try checkSignature(name, at: nameToken, parameters: values.count, expectedParameters: gate.parameterCount,
                               qubits: operands.count, expectedQubits: gate.qubitCount)
            size = 1
            work = 1
        case .user(let index):
            let definition = definitions[index]
            try checkSignature(name, at: nameToken, parameters: values.count, expectedParameters: definition.parameterCount,
                               qubits: operands.count, expectedQubits: definition.qubitCount)
            guard definition.isValid else { return }
            size = definition.expandedSize
            work = definition.expansionWork
        }
        var ranges: [Range<Int>] = []
        for operand in operands {
            guard let range = try resolveQuantum(operand) else { return }
            ranges.append(range)
        }
        let width = try broadcastWidth(ranges, operands)
        let (total, overflow) = size.multipliedReportingOverflow(by: width)
        try reserveInstructions(overflow ? .max : total, at: nameToken)
        let (totalWork, workOverflow) = work.multipliedReportingOverflow(by: width)
        try reserveWork(workOverflow ? .max : totalWork, at: nameToken)

        for step in 0 ..< width {
            var qubits: [Int] = []
            for (range, operand) in zip(ranges, operands) {
                let qubit = element(range, operand, step)
                if qubits.contains(qubit) {
                    throw error("qubit \(operand.name)[\(operand.index ?? step)] is used twice in one gate call", at: operand.token)
                }
                qubits.append(qubit)
            }
            switch symbol {
            case .standard(let gate):
                circuit.appendUnchecked(Instruction(.gate(GateApplication(gate, values, qubits: qubits)), condition: condition))
            case .user(let index):
                try expand(index, values, qubits, condition, callToken: nameToken)
            }
        }
    }

    /// Inlines a user gate. Recursion depth is bounded by `ParseLimits.maxGateNestingDepth`, checked
    /// when the definitions were read.
    private mutating func expand(
        _ definitionIndex: Int, _ values: [Double], _ qubits: [Int], _ condition: Condition?, callToken: Token
    ) throws(Diagnostic) {
        for statement in definitions[definitionIndex].body {
            switch statement {
            case .barrier(let positions):
                circuit.appendUnchecked(Instruction(.barrier(qubits: positions.map { qubits[$0] })))
            case .call(let callee, let arguments, let positions, let line, let column):
                var innerValues: [Double] = []
                innerValues.reserveCapacity(arguments.count)
                for argument in arguments {
                    let value = argument.evaluate(values)
                    guard value.isFinite else {
                        throw error("a parameter in the body of '\(definitions[definitionIndex].name)' (line \(line), column \(column)) evaluates to \(value) for this call", at: callToken)
                    }
                    innerValues.append(value)
                }
                let innerQubits = positions.map { qubits[$0] }
                switch callee {
                case .standard(let gate):
                    circuit.appendUnchecked(Instruction(.gate(GateApplication(gate, innerValues, qubits: innerQubits)), condition: condition))
                case .user(let index):
                    try expand(index, innerValues, innerQubits, condition, callToken: callToken)
                }
            }
        }
    }
}

import Testing
@testable import Circuits

@Suite("OpenQASM parser")
struct ParserTests {
    @Test("registers, gates and measurements become instructions on global indices")
    func basicProgram() throws {
        let circuit = try OpenQASM.parse(header + """
            qreg a[2];
            qreg b[1];
            creg c[3];
            h a[1];
            cx a[1], b[0];
            measure b[0] -> c[2];
            """)
        #expect(circuit.qubitCount == 3)
        #expect(circuit.clbitCount == 3)
        #expect(circuit.quantumRegisters.map(\.name) == ["a", "b"])
        #expect(circuit.instructions == [
            Instruction(.gate(GateApplication(.h, qubits: [1]))),
            Instruction(.gate(GateApplication(.cx, qubits: [1, 2]))),
            Instruction(.measure(qubit: 2, clbit: 2)),
        ])
    }

    @Test("whole-register arguments broadcast, single qubits repeat")
    func broadcasting() throws {
        let circuit = try OpenQASM.parse(header + """
            qreg a[3];
            qreg b[3];
            creg c[3];
            h a;
            cx a, b;
            cx a[0], b;
            measure a -> c;
            """)
        let operations = circuit.instructions.map(\.operation)
        #expect(operations[0 ..< 3].map(\.qubits) == [[0], [1], [2]])
        #expect(operations[3 ..< 6].map(\.qubits) == [[0, 3], [1, 4], [2, 5]])
        #expect(operations[6 ..< 9].map(\.qubits) == [[0, 3], [0, 4], [0, 5]])
        #expect(Array(operations[9...]) == [.measure(qubit: 0, clbit: 0), .measure(qubit: 1, clbit: 1), .measure(qubit: 2, clbit: 2)])
    }

    @Test("broadcasting registers of different sizes is an error")
    func broadcastMismatch() {
        let found = diagnostics(header + "qreg a[2];\nqreg b[3];\ncx a, b;\n")
        #expect(found.count == 1)
        #expect(found.first?.line == 5)
        #expect(found.first?.message.contains("different sizes") == true)
    }

    @Test("user gates with parameters expand into standard gates with evaluated angles")
    func userGates() throws {
        let circuit = try OpenQASM.parse(header + """
            gate rot(theta, phi) a, b { rz(theta/2) a; cx a, b; U(phi^2, -theta, pi) b; }
            gate outer(x) q0, q1 { rot(2*x, x + 1) q1, q0; barrier q0, q1; }
            qreg q[2];
            outer(0.5) q[0], q[1];
            """)
        #expect(circuit.instructions == [
            Instruction(.gate(GateApplication(.rz, [0.5], qubits: [1]))),
            Instruction(.gate(GateApplication(.cx, qubits: [1, 0]))),
            Instruction(.gate(GateApplication(.U, [2.25, -1.0, .pi], qubits: [0]))),
            Instruction(.barrier(qubits: [0, 1])),
        ])
    }

    @Test("expressions: precedence, unary minus, power, functions, pi")
    func expressions() throws {
        func angle(_ expression: String) throws -> Double {
            let circuit = try OpenQASM.parse(header + "qreg q[1];\nrz(\(expression)) q[0];\n")
            guard case .gate(let gate) = circuit.instructions[0].operation else { return .nan }
            return gate.parameters[0]
        }
        #expect(try angle("1 + 2 * 3") == 7)
        #expect(try angle("(1 + 2) * 3") == 9)
        #expect(try angle("-2^2") == -4)
        #expect(try angle("2^3^2") == 512)
        #expect(try angle("2^-1") == 0.5)
        #expect(try angle("8 / 4 / 2") == 1)
        #expect(try angle("- -3") == 3)
        #expect(try angle("-pi/4") == -Double.pi / 4)
        #expect(abs(try angle("sin(pi/2) + cos(0) + tan(0) + exp(0) + ln(1) + sqrt(16)") - 7) < 1e-15)
        #expect(try angle("1.5e-1") == 0.15)
        #expect(try angle(".5") == 0.5)
    }

    @Test("if applies the condition to every broadcast operation")
    func conditionals() throws {
        let circuit = try OpenQASM.parse(header + """
            qreg q[2];
            creg a[1];
            creg b[2];
            if (b == 2) x q;
            if (a == 1) measure q[0] -> b[1];
            """)
        #expect(circuit.instructions.count == 3)
        #expect(circuit.instructions[0].condition == Condition(register: 1, value: 2))
        #expect(circuit.instructions[1].condition == Condition(register: 1, value: 2))
        #expect(circuit.instructions[2] == Instruction(.measure(qubit: 0, clbit: 2), condition: Condition(register: 0, value: 1)))
    }

    @Test("every qelib1 gate name is accepted with its signature, including Qiskit's additions")
    func wholeLibrary() throws {
        var program = header + "qreg q[5];\n"
        for gate in StandardGate.allCases {
            let parameters = gate.parameterCount == 0 ? "" : "(" + Array(repeating: "0.1", count: gate.parameterCount).joined(separator: ",") + ")"
            program += "\(gate.name)\(parameters) " + (0 ..< gate.qubitCount).map { "q[\($0)]" }.joined(separator: ",") + ";\n"
        }
        program += "c3sx q[0],q[1],q[2],q[3];\n"
        let circuit = try OpenQASM.parse(program)
        #expect(circuit.instructions.count == StandardGate.allCases.count + 1)
        #expect(circuit.instructions.last?.operation == .gate(GateApplication(.c3sqrtx, qubits: [0, 1, 2, 3])))
    }

    @Test("comments, blank lines and a program without the version line are fine")
    func trivia() throws {
        let circuit = try OpenQASM.parse("// leading comment\ninclude \"qelib1.inc\"; // trailing\n\n\tqreg q[1];   x q[0];\n")
        #expect(circuit.instructions.count == 1)
    }

    @Test("errors carry line and column", arguments: [
        ("qreg q[2];\nh q[2];\n", 4, 3, "out of range"),
        ("qreg q[1];\nfoo q[0];\n", 4, 1, "unknown gate 'foo'"),
        ("qreg q[1];\nrz q[0];\n", 4, 1, "takes 1 parameter"),
        ("qreg q[1];\nh q[0]\nx q[0];\n", 5, 1, "expected ';'"),
        ("qreg q[1];\n  cx q[0], q[0];\n", 4, 12, "used twice"),
        ("qreg q[1];\nmeasure q[0] -> c[0];\n", 4, 17, "unknown classical register 'c'"),
        ("qreg q[1];\nrz(1/0) q[0];\n", 4, 4, "not a finite number"),
        ("qreg q[1];\nrz(theta) q[0];\n", 4, 4, "unknown identifier 'theta'"),
        ("qreg q[1];\nx q[0]; @\n", 4, 9, "unexpected character '@'"),
        ("qreg q[0];\n", 3, 8, "at least one bit"),
        ("opaque magic a;\n", 3, 1, "opaque gate 'magic' is not supported"),
        ("qreg q[1];\nqreg q[2];\n", 4, 6, "already declared"),
        ("OPENQASM 2.0;\n", 3, 1, "must come first"),
    ])
    func errorPositions(source: String, line: Int, column: Int, message: String) {
        let found = diagnostics(header + source)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.line == line)
        #expect(found.first?.column == column)
        #expect(found.first?.message.contains(message) == true, "\(found)")
    }

    @Test("other OpenQASM versions are refused at the version number")
    func otherVersion() {
        let found = diagnostics("OPENQASM 3.0;\nqreg q[1];\n")
        #expect(found.count == 1)
        #expect(found.first.map { ($0.line, $0.column) } ?? (0, 0) == (1, 10))
        #expect(found.first?.message.contains("only OpenQASM 2.0") == true)
    }

    @Test("qelib1 gates need the include, with a hint")
    func missingInclude() {
        let found = diagnostics("OPENQASM 2.0;\nqreg q[1];\nh q[0];\n")
        #expect(found.map(\.line) == [3])
        #expect(found.first?.message.contains("include \"qelib1.inc\"") == true)
    }

    @Test("builtins U and CX work without the include")
    func builtinsWithoutInclude() throws {
        let circuit = try OpenQASM.parse("OPENQASM 2.0;\nqreg q[2];\nU(pi,0,pi) q[0];\nCX q[0],q[1];\n")
        #expect(circuit.statistics.operationCounts == ["U": 1, "CX": 1])
    }

    @Test("parsing recovers at statement boundaries and reports several errors")
    func recovery() {
        let found = diagnostics(header + """
            qreg q[2];
            h q[5];
            cx q[0] q[1];
            gate g a { h a; nope a; }
            g q[0];
            x q[0];
            rz(,) q[1];
            """)
        #expect(found.map(\.line) == [4, 5, 6, 9])
    }

    @Test("the number of diagnostics is capped")
    func diagnosticCap() {
        var limits = ParseLimits()
        limits.maxDiagnostics = 5
        let program = header + "qreg q[1];\n" + String(repeating: "bogus q[0];\n", count: 50)
        do {
            _ = try OpenQASM.parse(program, limits: limits)
            Issue.record("expected a failure")
        } catch {
            #expect(error.diagnostics.count == 5)
            #expect(error.isTruncated)
        }
    }

    @Test("a gate redefining a qelib1 gate of the original library is refused; a newer one may be redefined")
    func redefinitions() throws {
        #expect(diagnostics(header + "gate h a { U(pi/2,0,pi) a; }\n").first?.message.contains("already defined") == true)
        let circuit = try OpenQASM.parse(header + "gate sx a { sdg a; h a; sdg a; }\nqreg q[1];\nsx q[0];\n")
        #expect(circuit.statistics.operationCounts == ["sdg": 2, "h": 1])
    }

    @Test("a gate defined before the include keeps its own definition; the include adds the rest")
    func definitionBeforeInclude() throws {
        let circuit = try OpenQASM.parse("""
            OPENQASM 2.0;
            gate sx a { U(pi/2,-pi/2,pi/2) a; }
            include "qelib1.inc";
            qreg q[2];
            sx q[0];
            h q[1];
            cx q[0],q[1];
            """)
        #expect(circuit.statistics.operationCounts == ["U": 1, "h": 1, "cx": 1])
        #expect(diagnostics("OPENQASM 2.0;\nqreg q[1];\nh q[0];\n").first?.message.contains("qelib1.inc") == true)
    }

    @Test("statistics follow Qiskit's definitions")
    func statistics() throws {
        let circuit = try OpenQASM.parse(header + """
            qreg q[3];
            creg c[3];
            h q[0];
            cx q[0], q[1];
            barrier q;
            cx q[1], q[2];
            measure q -> c;
            """)
        let statistics = circuit.statistics
        #expect(statistics.qubits == 3)
        #expect(statistics.depth == 4)
        #expect(statistics.size == 6)
        #expect(statistics.gates == 3)
        #expect(statistics.multiQubitGates == 2)
        #expect(statistics.operationCounts == ["h": 1, "cx": 2, "barrier": 1, "measure": 3])
        #expect(statistics.measuresOnlyAtEnd)
        let mid = try OpenQASM.parse(header + "qreg q[1];\ncreg c[1];\nmeasure q[0] -> c[0];\nx q[0];\n")
        #expect(!mid.statistics.measuresOnlyAtEnd)
    }
}

import Testing
@testable import Circuits

/// Programs built to exhaust time, memory or stack must be refused cleanly. Each would hang or exhaust memory if a
/// limit were missing; the time limit turns such a hang into a failure instead of a stalled run.
@Suite("Hostile programs", .timeLimit(.minutes(1)))
struct HostileInputTests {
    private func refused(_ source: String, limits: ParseLimits = ParseLimits(), mentioning text: String) {
        let found = diagnostics(source, limits: limits)
        #expect(!found.isEmpty, "expected a refusal")
        #expect(found.contains { $0.message.contains(text) }, "\(found)")
        #expect(found.allSatisfy { $0.line >= 1 && $0.column >= 1 })
    }

    @Test("a gate calling itself is refused")
    func recursion() {
        refused(header + "gate loop a { loop a; }\nqreg q[1];\nloop q[0];\n", mentioning: "recursive")
    }

    @Test("absurd register sizes are refused before anything is allocated")
    func hugeRegisters() {
        refused(header + "qreg q[1000000000];\n", mentioning: "limit")
        refused(header + "qreg q[99999999999999999999999];\n", mentioning: "too large")
        refused(header + "creg c[5000000];\n", mentioning: "limit")
    }

    @Test("deeply nested expressions are refused without exhausting the stack")
    func deepNesting() {
        let depth = 100_000
        refused(header + "qreg q[1];\nrz(" + String(repeating: "(", count: depth) + "1" + String(repeating: ")", count: depth) + ") q[0];\n",
                mentioning: "nested")
        refused(header + "qreg q[1];\nrz(" + String(repeating: "-", count: depth) + "1) q[0];\n", mentioning: "nested")
        refused(header + "gate g(a) q { rz(" + Array(repeating: "a", count: 5000).joined(separator: "*") + ") q; }\n",
                mentioning: "nested")
    }

    @Test("long constant sums fold instead of nesting")
    func longConstantSums() throws {
        let circuit = try OpenQASM.parse(header + "qreg q[1];\nrz(" + Array(repeating: "1", count: 10000).joined(separator: "+") + ") q[0];\n")
        #expect(circuit.instructions.first?.operation == .gate(GateApplication(.rz, [10000], qubits: [0])))
    }

    @Test("includes other than qelib1.inc are refused")
    func otherIncludes() {
        refused("OPENQASM 2.0;\ninclude \"/etc/passwd\";\n", mentioning: "only \"qelib1.inc\"")
        refused("OPENQASM 2.0;\ninclude \"stdgates.inc\";\n", mentioning: "only \"qelib1.inc\"")
    }

    @Test("gate-count bombs (each level doubling the last) are refused before expansion")
    func gateCountBomb() {
        var program = header + "gate g0 a { x a; x a; }\n"
        for level in 1 ... 60 { program += "gate g\(level) a { g\(level - 1) a; g\(level - 1) a; }\n" }
        program += "qreg q[1];\ng60 q[0];\n"
        refused(program, mentioning: "more than")
    }

    @Test("broadcasting a large gate over a register counts toward the limit")
    func broadcastBomb() {
        var limits = ParseLimits()
        limits.maxInstructions = 1000
        var program = header + "gate g0 a { x a; x a; }\n"
        for level in 1 ... 5 { program += "gate g\(level) a { g\(level - 1) a; g\(level - 1) a; }\n" }
        program += "qreg q[100];\ng5 q;\n"
        refused(program, limits: limits, mentioning: "more than 1000 instructions")
    }

    @Test("definition chains deeper than the limit are refused")
    func nestingDepth() {
        var limits = ParseLimits()
        limits.maxGateNestingDepth = 10
        var program = header + "gate g0 a { x a; }\n"
        for level in 1 ... 12 { program += "gate g\(level) a { g\(level - 1) a; }\n" }
        refused(program, limits: limits, mentioning: "nests gate definitions")
    }

    @Test("oversized programs are refused by size alone")
    func hugeFile() {
        var limits = ParseLimits()
        limits.maxProgramBytes = 1 << 20
        refused(header + String(repeating: "// padding\n", count: 200_000), limits: limits, mentioning: "bytes")
    }

    @Test("a long single line of errors is cut at 20 diagnostics")
    func longLine() {
        let line = String(repeating: "x q[0]; ", count: 200_000)
        #expect(diagnostics(header + line).count == 20)
    }

    @Test("binary garbage is refused with positions")
    func garbage() {
        let noise = String(decoding: (0 ..< 2000).map { UInt8(($0 * 7919) % 256) }, as: UTF8.self)
        let found = diagnostics(noise)
        #expect(!found.isEmpty)
        #expect(found.count <= 20)
    }

    @Test("a bomb of empty gates, which produces no instruction, is refused by the work it would take")
    func emptyGateBomb() {
        var program = header + "gate g0 a { }\n"
        for level in 1 ... 63 { program += "gate g\(level) a { g\(level - 1) a; g\(level - 1) a; }\n" }
        program += "qreg q[1];\ng63 q[0];\n"
        refused(program, mentioning: "steps to expand")
    }

    @Test("an empty gate broadcast over a register again and again is refused by its work")
    func emptyGateBroadcasts() {
        let program = header + "gate e a { }\nqreg q[1024];\n" + String(repeating: "e q;\n", count: 20_000)
        refused(program, mentioning: "steps to expand")
    }

    @Test("wide barriers count every operand")
    func wideBarriers() {
        let program = header + "qreg q[1024];\n" + String(repeating: "barrier q;\n", count: 20_000)
        refused(program, mentioning: "steps to expand")
    }

    @Test("large parameter expressions in a broadcast body count every term")
    func expressionWork() {
        // 4,096 terms in a balanced tree: 12 levels deep, within the depth limit, but 8,191 nodes to evaluate for
        // each of the 1,024 qubits.
        func balanced(_ terms: Int) -> String { terms == 1 ? "x" : "(" + balanced(terms / 2) + "+" + balanced(terms / 2) + ")" }
        let program = header + "gate g(x) a { U(\(balanced(4096)), 0, 0) a; }\nqreg q[1024];\ng(0.5) q;\n"
        refused(program, mentioning: "steps to expand")
    }

    @Test("a gate may declare at most 64 parameters and 64 qubits")
    func wideSignatures() {
        let parameters = (0 ..< 100_000).map { "p\($0)" }.joined(separator: ",")
        refused(header + "gate g(\(parameters)) a { }\n", mentioning: "more than the limit of 64")
        let qubits = (0 ..< 100_000).map { "q\($0)" }.joined(separator: ",")
        refused(header + "gate g \(qubits) { }\n", mentioning: "more than the limit of 64")
    }

    @Test("a name longer than 256 characters is refused, and messages stay short")
    func longNames() throws {
        let name = "g" + String(repeating: "x", count: 5_000_000)
        let found = diagnostics(header + "gate \(name) a {\n" + String(repeating: "x b;\n", count: 45) + "}\n")
        #expect(found.contains { $0.message.contains("longer than 256") }, "\(found.prefix(3))")
        #expect(found.map(\.message.utf8.count).reduce(0, +) < 20_000, "no message repeats the name")
    }

    @Test("each wrong statement of a gate body is reported, the one after it still read")
    func bodyErrorsDoNotSwallowTheNextStatement() {
        let body = String(repeating: "x b;\n", count: 10)
        let found = diagnostics(header + "gate g a {\n" + body + "}\n")
        #expect(found.count == 10, "\(found.map(\.line))")
        #expect(found.map(\.line) == Array(4 ... 13))
    }
}

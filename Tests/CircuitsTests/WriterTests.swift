import Testing
@testable import Circuits

@Suite("OpenQASM writer")
struct WriterTests {
    @Test("writing then parsing gives back the same circuit", arguments: [UInt64(1), 2, 3])
    func roundTripRandom(seed: UInt64) throws {
        var circuit = randomCircuit(qubits: 5, gates: 100, seed: seed)
        circuit.addClassicalRegister(name: "m", size: 2)
        circuit.addClassicalRegister(name: "flag", size: 1)
        circuit.append(.measure(qubit: 3, clbit: 1))
        circuit.append(.barrier(qubits: [0, 2]))
        circuit.append(Instruction(.gate(GateApplication(.rz, [1e-7], qubits: [4])), condition: Condition(register: 1, value: 1)))
        circuit.append(.reset(qubit: 2))
        let text = OpenQASM.write(circuit)
        #expect(try OpenQASM.parse(text) == circuit)
    }

    @Test("a parsed program survives a round trip through the writer")
    func roundTripProgram() throws {
        let circuit = try OpenQASM.parse(header + """
            gate mine(a) x, y { cu3(a, -a, pi) x, y; }
            qreg data[3];
            qreg anc[1];
            creg out[3];
            mine(0.25) data[0], anc[0];
            if (out == 5) sx data;
            measure data -> out;
            """)
        #expect(try OpenQASM.parse(OpenQASM.write(circuit)) == circuit)
    }

    @Test("numbers keep a decimal point and full precision")
    func numberFormat() {
        #expect(OpenQASMWriter.format(1e-5) == "1.0e-05")
        #expect(OpenQASMWriter.format(3) == "3.0")
        #expect(OpenQASMWriter.format(-0.1) == "-0.1")
        #expect(Double(OpenQASMWriter.format(.pi)) == .pi)
    }

    @Test("the text has the expected shape")
    func shape() throws {
        var circuit = Circuit(qubits: 2, clbits: 2)
        circuit.append(.h, on: 0)
        circuit.append(.cx, on: 0, 1)
        circuit.append(.measure(qubit: 1, clbit: 0))
        #expect(OpenQASM.write(circuit) == """
            OPENQASM 2.0;
            include "qelib1.inc";
            qreg q[2];
            creg c[2];
            h q[0];
            cx q[0],q[1];
            measure q[1] -> c[0];

            """)
    }
}

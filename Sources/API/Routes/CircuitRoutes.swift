import Circuits
import Domain
import Store
import Web

/// Circuits without running them: validate, compile for a device, optimize.
struct CircuitRoutes {
    func register(in router: inout Router<RequestContext>) {
        func permission(_ text: String) -> Access { .permission(Permission(literal: text)) }
        router.add("POST", "/api/v1/circuits/validate", access: permission("circuit:validate"), handler: Self.validate)
        router.add("POST", "/api/v1/circuits/compile", access: permission("circuit:compile"), handler: Self.compile)
        router.add("POST", "/api/v1/circuits/optimize", access: permission("circuit:optimize"), handler: Self.optimize)
    }

    /// Qubits, classical bits, depth and gate counts of `program`; or 400 with the line and column of each error.
    @Sendable static func validate(_ request: Request, _ context: RequestContext) throws -> Response {
        var fields = FieldReader(try request.jsonObject())
        let source = fields.string("program", required: true)
        try fields.finish()
        let circuit = try parse(source ?? "")
        return .json(.object([("valid", .bool(true)), ("statistics", json(circuit.statistics))]))
    }

    /// OpenQASM 2.0 for `device`: unrolled to its `basis_gates`, routed onto its `coupling_map` with SWAPs and
    /// optimized, with statistics before and after and the qubit layouts.
    @Sendable static func compile(_ request: Request, _ context: RequestContext) throws -> Response {
        var fields = FieldReader(try request.jsonObject())
        let source = fields.string("program", required: true)
        let deviceID = fields.string("device", required: true) { JobTarget.isDeviceID($0) ? nil : "is not a device id" }
        try fields.finish()
        guard let source, let deviceID else { throw Problem.internalError }
        let circuit = try parse(source)
        guard let device = try DeviceStore(connection: context.connection).properties(id: deviceID) else {
            throw Problem.notFound("No device \(deviceID).")
        }
        guard device.kind.runs(.circuit) else {
            throw Problem.conflict("Device \(deviceID) is a \(device.kind.rawValue) and runs no circuits.")
        }
        let target = try compilationTarget(propertiesJSON: device.propertiesJSON, deviceID: deviceID)
        let result: CompilationResult
        do {
            result = try Compiler.compile(circuit, for: target)
        } catch {
            throw Problem.conflict("The circuit cannot be compiled for \(deviceID): \(error.description).")
        }
        return .json(
            .object([
                ("device", .string(deviceID)), ("program", .string(OpenQASM.write(result.circuit))),
                ("before", json(result.before)), ("after", json(result.after)),
                ("swaps_inserted", .int(Int64(result.swapsInserted))),
                ("initial_layout", .array(result.initialLayout.map { .int(Int64($0)) })),
                ("final_layout", .array(result.finalLayout.map { .int(Int64($0)) })),
            ]))
    }

    /// `program` with adjacent inverses cancelled, rotations merged and identities dropped, and statistics before
    /// and after.
    @Sendable static func optimize(_ request: Request, _ context: RequestContext) throws -> Response {
        var fields = FieldReader(try request.jsonObject())
        let source = fields.string("program", required: true)
        try fields.finish()
        let result = Compiler.optimize(try parse(source ?? ""))
        return .json(
            .object([
                ("program", .string(OpenQASM.write(result.circuit))), ("before", json(result.before)),
                ("after", json(result.after)),
            ]))
    }

    /// Parses a program or throws 400 listing every error with its line and column.
    static func parse(_ source: String) throws -> Circuit {
        do {
            return try OpenQASM.parse(source)
        } catch {
            var problem = Problem.validation(
                error.diagnostics.map { FieldError(field: "program", message: $0.description) },
                detail: "The program is not valid OpenQASM 2.0.")
            let diagnostics = error.diagnostics.map { diagnostic in
                JSON.object([
                    ("line", .int(Int64(diagnostic.line))), ("column", .int(Int64(diagnostic.column))),
                    ("message", .string(diagnostic.message)),
                ])
            }
            problem.extensions.append(("diagnostics", .array(diagnostics)))
            throw problem
        }
    }

    /// A device's basis gates (all standard gates when it declares none) and coupling map.
    static func compilationTarget(propertiesJSON: String, deviceID: String) throws -> CompilationTarget {
        let properties = (try? JSON.parse(propertiesJSON)) ?? .object([])
        var basis = Set(StandardGate.allCases.map(\.name))
        if let gates = properties["basis_gates"]?.arrayValue {
            basis = Set(gates.compactMap(\.stringValue))
        }
        var coupling: CouplingMap?
        if let edges = properties["coupling_map"]?.arrayValue {
            let pairs = edges.compactMap { edge in edge.arrayValue?.compactMap { $0.intValue.map(Int.init) } }
            do {
                coupling = try CouplingMap(edges: pairs, qubitCount: properties["qubits"]?.intValue.map(Int.init))
            } catch {
                throw Problem.conflict("Device \(deviceID) has an unusable coupling map: \(error.description).")
            }
        }
        return CompilationTarget(basisGates: basis, couplingMap: coupling)
    }

    static func json(_ statistics: CircuitStatistics) -> JSON {
        .object([
            ("qubits", .int(Int64(statistics.qubits))), ("clbits", .int(Int64(statistics.clbits))),
            ("depth", .int(Int64(statistics.depth))), ("size", .int(Int64(statistics.size))),
            ("gates", .int(Int64(statistics.gates))), ("multi_qubit_gates", .int(Int64(statistics.multiQubitGates))),
            ("gate_counts", .object(statistics.operationCounts.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
            ("measures_only_at_end", .bool(statistics.measuresOnlyAtEnd)),
        ])
    }
}

import Circuits
import Domain
import Postgres
import Store
import Web

/// Devices, their load and reservations, and the cluster at a glance.
struct DeviceRoutes {
    func register(in router: inout Router<RequestContext>) {
        func permission(_ text: String) -> Access { .permission(Permission(literal: text)) }
        router.add("GET", "/api/v1/devices", access: permission("device:read"), handler: Self.list)
        router.add("POST", "/api/v1/devices", access: permission("device:create"), handler: Self.create)
        router.add("GET", "/api/v1/devices/{id}", access: permission("device:read"), handler: Self.get)
        router.add("PATCH", "/api/v1/devices/{id}", access: permission("device:update"), handler: Self.update)
        router.add("DELETE", "/api/v1/devices/{id}", access: permission("device:delete"), handler: Self.delete)
        router.add("GET", "/api/v1/devices/{id}/status", access: permission("device:read"), handler: Self.status)
        router.add("POST", "/api/v1/devices/{id}/reservations", access: permission("device:reserve"), handler: Self.reserve)
        router.add("GET", "/api/v1/devices/{id}/reservations", access: permission("device:read"), handler: Self.reservations)
        router.add(
            "DELETE", "/api/v1/devices/{id}/reservations/{rid}", access: permission("device:reserve"),
            handler: Self.deleteReservation)
        router.add("GET", "/api/v1/cluster/status", access: permission("device:read"), handler: Self.clusterStatus)
    }

    /// The longest reservation (30 days).
    static let maximumReservationSeconds: Int64 = 30 * 24 * 3600

    /// Devices filtered by `kind`, `status`, `label`; `available=true` keeps online devices with free capacity and
    /// no reservation by someone else now.
    @Sendable static func list(_ request: Request, _ context: RequestContext) throws -> Response {
        try request.query.requireOnly(["kind", "status", "label", "available"])
        let identity = try context.requireIdentity()
        var errors: [FieldError] = []
        let kind = request.query["kind"]
        if let kind, DeviceKind(rawValue: kind) == nil { errors.append(FieldError(field: "kind", message: "is not a device kind")) }
        let status = request.query["status"]
        if let status, DeviceStatus(rawValue: status) == nil {
            errors.append(FieldError(field: "status", message: "must be online, offline or maintenance"))
        }
        let available = request.query["available"] == "true"
        if let text = request.query["available"], text != "true", text != "false" {
            errors.append(FieldError(field: "available", message: "must be true or false"))
        }
        if !errors.isEmpty { throw Problem.validation(errors) }
        let devices = try DeviceStore(connection: context.connection).list(
            kind: kind, status: status, label: request.query["label"], availableOnly: available, caller: identity.principalID)
        return .json(.object([("items", .array(devices.map(JSON.fragment)))]))
    }

    @Sendable static func get(_ request: Request, _ context: RequestContext) throws -> Response {
        let id = request.pathParameters["id"] ?? ""
        guard let json = try DeviceStore(connection: context.connection).get(id: id) else {
            throw Problem.notFound("No device \(id).")
        }
        return .json(text: json)
    }

    /// Queue length, scheduled and running jobs, utilization and the next reservation (its holder only to the
    /// holder and to admins).
    @Sendable static func status(_ request: Request, _ context: RequestContext) throws -> Response {
        let id = request.pathParameters["id"] ?? ""
        let viewer = try context.requireIdentity().ownerFilter
        guard let json = try DeviceStore(connection: context.connection).status(id: id, viewer: viewer) else {
            throw Problem.notFound("No device \(id).")
        }
        return .json(text: json)
    }

    /// Adds a device: `id` (slug), `kind`, and optional `status`, `capacity`, `labels`, `properties`, `description`.
    @Sendable static func create(_ request: Request, _ context: RequestContext) throws -> Response {
        var fields = FieldReader(try request.jsonObject())
        let id = fields.string("id", required: true) { JobTarget.isDeviceID($0) && $0 != "_any" ? nil : "must be a slug: lower-case letters, digits and -" }
        let kind = fields.string("kind", required: true) { DeviceKind(rawValue: $0) == nil ? "must be simulator, qpu, gpu or host" : nil }
            .flatMap(DeviceKind.init)
        let status = readStatus(&fields) ?? .online
        let capacity = fields.int("capacity", range: 1...100_000) ?? 1
        let labels = fields.stringList("labels") { JobTarget.isLabel($0) ? nil : "is not a label (lower-case letters, digits, _ . -)" } ?? []
        let properties = readProperties(&fields) ?? .object([])
        let description = fields.string("description") { Validation.text($0, limit: 500) } ?? ""
        try fields.finish()
        guard let id, let kind else { throw Problem.internalError }
        let definition = DeviceDefinition(
            id: id, kind: kind, status: status, capacity: Int(capacity), labels: labels, propertiesJSON: properties.text,
            description: description)
        return try context.transaction {
            let json: String
            do {
                json = try DeviceStore(connection: context.connection).create(definition)
            } catch let error as DatabaseError where error.constraint == "device_pkey" {
                throw Problem.conflict("A device \(id) already exists.")
            }
            context.auditEvent = "device.created"
            context.auditDetail = [("device_id", .string(id))]
            var response = Response.json(text: json, status: 201)
            response.headers.append(("Location", "/api/v1/devices/\(id)"))
            return response
        }
    }

    /// Changes `status`, `capacity`, `labels`, `properties` (replaced whole) or `description`.
    @Sendable static func update(_ request: Request, _ context: RequestContext) throws -> Response {
        let id = request.pathParameters["id"] ?? ""
        var fields = FieldReader(try request.jsonObject())
        var change = DeviceChange()
        change.status = readStatus(&fields)
        change.capacity = fields.int("capacity", range: 1...100_000).map(Int.init)
        change.labels = fields.stringList("labels") { JobTarget.isLabel($0) ? nil : "is not a label" }
        change.propertiesJSON = readProperties(&fields)?.text
        change.description = fields.string("description") { Validation.text($0, limit: 500) }
        try fields.finish()
        return try context.transaction {
            guard let json = try DeviceStore(connection: context.connection).update(id: id, change) else {
                throw Problem.notFound("No device \(id).")
            }
            context.auditEvent = "device.updated"
            context.auditDetail = [("device_id", .string(id))]
            return .json(text: json)
        }
    }

    /// Retires a device that runs nothing; its history stays, it takes no more jobs.
    @Sendable static func delete(_ request: Request, _ context: RequestContext) throws -> Response {
        let id = request.pathParameters["id"] ?? ""
        return try context.transaction {
            switch try DeviceStore(connection: context.connection).retire(id: id) {
            case .notFound: throw Problem.notFound("No device \(id).")
            case .busy: throw Problem.conflict("Device \(id) still has scheduled or running jobs.")
            case .retired:
                context.auditEvent = "device.retired"
                context.auditDetail = [("device_id", .string(id))]
                return .noContent
            }
        }
    }

    /// Reserves a device from `start` to `end` (RFC 3339, at most 30 days): during it only the holder's jobs run
    /// there. Overlaps are refused (409) by the database's exclusion constraint. `start` may lie at most five
    /// minutes in the past (a client's clock, a "from now" computed a moment ago): a reservation cannot claim time
    /// that has gone, nor so conflict with reservations that have ended.
    static let startLeewaySeconds: Int64 = 300

    @Sendable static func reserve(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        let id = request.pathParameters["id"] ?? ""
        var fields = FieldReader(try request.jsonObject())
        let start = fields.timestamp("start", required: true)
        let end = fields.timestamp("end", required: true)
        if let start, let end {
            if end <= start { fields.fail("end", "must be after start") }
            if end.seconds - start.seconds > maximumReservationSeconds { fields.fail("end", "must be at most 30 days after start") }
            if end <= context.receivedAt { fields.fail("end", "must be in the future") }
            if start.seconds < context.receivedAt.seconds - Self.startLeewaySeconds {
                fields.fail("start", "must be now or later (at most five minutes ago)")
            }
        }
        try fields.finish()
        guard let start, let end else { throw Problem.internalError }
        return try context.transaction {
            let json: String?
            do {
                json = try DeviceStore(connection: context.connection).reserve(
                    deviceID: id, principalID: identity.principalID, start: start, end: end)
            } catch let error as DatabaseError where error.constraint == "reservation_no_overlap" {
                throw Problem.conflict("Device \(id) is already reserved for part of that time.")
            }
            guard let json else { throw Problem.notFound("No device \(id).") }
            context.auditEvent = "reservation.created"
            context.auditDetail = [("device_id", .string(id))]
            return .json(text: json, status: 201)
        }
    }

    /// A device's reservations that have not ended: when, for everyone; by whom, for the holder and admins.
    @Sendable static func reservations(_ request: Request, _ context: RequestContext) throws -> Response {
        let id = request.pathParameters["id"] ?? ""
        let viewer = try context.requireIdentity().ownerFilter
        let store = DeviceStore(connection: context.connection)
        guard try store.exists(id: id) else { throw Problem.notFound("No device \(id).") }
        return .json(.object([("items", .array(try store.reservations(deviceID: id, viewer: viewer).map(JSON.fragment)))]))
    }

    /// Cancels one of the caller's reservations (administrators: anyone's).
    @Sendable static func deleteReservation(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        let id = request.pathParameters["id"] ?? ""
        guard let reservation = request.pathParameters["rid"].flatMap(Int64.init) else {
            throw Problem.notFound("No such reservation.")
        }
        return try context.transaction {
            guard try DeviceStore(connection: context.connection).deleteReservation(
                id: reservation, deviceID: id, ownerFilter: identity.ownerFilter)
            else { throw Problem.notFound("No reservation \(reservation) of device \(id).") }
            context.auditEvent = "reservation.deleted"
            context.auditDetail = [("device_id", .string(id)), ("reservation_id", .int(reservation))]
            return .noContent
        }
    }

    /// Devices by status, jobs by state, capacity, queue depth and the oldest queued job's age.
    @Sendable static func clusterStatus(_ request: Request, _ context: RequestContext) throws -> Response {
        .json(text: try JobStore(connection: context.connection).clusterStatus())
    }

    private static func readStatus(_ fields: inout FieldReader) -> DeviceStatus? {
        fields.string("status") { DeviceStatus(rawValue: $0) == nil ? "must be online, offline or maintenance" : nil }
            .flatMap(DeviceStatus.init)
    }

    /// Device properties: an object of at most 64 KB; `qubits` a positive whole number, `basis_gates` a list of gate
    /// names, `coupling_map` a list of [from, to] qubit pairs (or null).
    ///
    /// Numbers must be written as integers (`28`, not `28.0` or `2.8e1`): PostgreSQL keeps the form it was given,
    /// and every reader of the fleet takes `qubits` as an integer.
    private static func readProperties(_ fields: inout FieldReader) -> JSON? {
        guard let properties = fields.raw("properties") else { return nil }
        guard properties.objectValue != nil, properties.bytes.count <= 65_536 else {
            fields.fail("properties", "must be a JSON object of at most 64 KB")
            return nil
        }
        func integer(_ value: JSON?) -> Int64? {
            if case .int(let number)? = value { number } else { nil }
        }
        let qubits = integer(properties["qubits"])
        if let value = properties["qubits"], !value.isNull, !(qubits.map { (1...1_000_000).contains($0) } ?? false) {
            fields.fail("properties.qubits", "must be a whole number from 1 to 1000000, written without a fraction")
        }
        if let gates = properties["basis_gates"], !gates.isNull,
            !(gates.arrayValue?.allSatisfy { $0.stringValue != nil } ?? false)
        {
            fields.fail("properties.basis_gates", "must be a list of gate names")
        }
        let mapQubits = Int64(min(qubits.map(Int.init) ?? CouplingMap.maximumQubits, CouplingMap.maximumQubits))
        if let map = properties["coupling_map"], !map.isNull,
            !(map.arrayValue?.allSatisfy { pair in
                pair.arrayValue?.count == 2 && pair.arrayValue!.allSatisfy { (integer($0) ?? -1) >= 0 && integer($0)! < mapQubits }
            } ?? false)
        {
            fields.fail(
                "properties.coupling_map",
                "must be a list of [from, to] pairs of qubit indices below qubits (at most \(CouplingMap.maximumQubits))")
        }
        return properties
    }
}

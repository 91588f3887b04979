import Circuits
import Domain
import OpenSSL
import Store
import Web

/// Jobs: submit, follow (long-poll), list, cancel, extend, retry, delete; queue statistics and the event stream.
struct JobRoutes {
    func register(in router: inout Router<RequestContext>) {
        func permission(_ text: String) -> Access { .permission(Permission(literal: text)) }
        router.add("POST", "/api/v1/jobs", access: permission("job:create"), batched: true, handler: Self.submit)
        router.add("GET", "/api/v1/jobs", access: permission("job:read"), handler: Self.list)
        router.add("GET", "/api/v1/jobs/{id}", access: permission("job:read"), prefetch: Self.prefetchGet, handler: Self.get)
        router.add("GET", "/api/v1/jobs/{id}/status", access: permission("job:read"), handler: Self.status)
        router.add("GET", "/api/v1/jobs/{id}/results", access: permission("job:read"), handler: Self.results)
        router.add("POST", "/api/v1/jobs/{id}/cancel", access: permission("job:cancel"), handler: Self.cancel)
        router.add("POST", "/api/v1/jobs/{id}/extend", access: permission("job:extend"), handler: Self.extend)
        router.add("POST", "/api/v1/jobs/{id}/retry", access: permission("job:retry"), handler: Self.retry)
        router.add("DELETE", "/api/v1/jobs/{id}", access: permission("job:delete"), handler: Self.delete)
        router.add("GET", "/api/v1/queue/stats", access: permission("job:read"), handler: Self.queueStats)
        router.add("GET", "/api/v1/events", access: permission("job:read"), handler: Self.events)
    }

    /// Programs larger than this are refused (10 MB).
    static let maximumProgramBytes = 10 * 1024 * 1024
    /// Metadata larger than this, serialized, is refused (64 KB).
    static let maximumMetadataBytes = 64 * 1024

    /// Submits a job (201 with `Location`); with `Idempotency-Key`, a retry returns the first job (200) and the
    /// same key with another body is 422. Every field is checked and every bad one named (400); circuits are
    /// parsed, so OpenQASM errors come back with their line and column. A valid submission is queued for the
    /// process's `SubmitBatcher`, which commits it with whatever else arrived meanwhile and runs this handler again
    /// to answer from its outcome.
    @Sendable static func submit(_ request: Request, _ context: RequestContext) throws -> Response {
        if let outcome = context.submitOutcome { return try submitted(outcome.get(), context: context) }
        let identity = try context.requireIdentity()
        var fields = FieldReader(try request.jsonObject())
        let name = fields.string("name", required: true, validate: jobNameProblem)
        let target = fields.string("target", required: true) { JobTarget($0) == nil ? "must be a device id, _any or group:LABEL" : nil }
        let kind = fields.string("kind", required: true) { JobKind(rawValue: $0) == nil ? "must be circuit or command" : nil }
            .flatMap(JobKind.init)
        let programValue = fields.raw("program")
        let shotsValue = fields.int("shots", range: 1...100_000)
        let priority = fields.int("priority", range: 1...100) ?? 50
        let maxDuration = fields.int("max_duration_s", range: 1...604_800) ?? 3600
        let metadata = fields.raw("metadata") ?? .object([])
        if metadata.objectValue == nil {
            fields.fail("metadata", "must be a JSON object")
        } else if metadata.bytes.count > maximumMetadataBytes {
            fields.fail("metadata", "must be at most 64 KB")
        } else if let seed = metadata["seed"], !Self.isSeed(seed) {
            // The simulator samples with it; a seed it could not read would silently be replaced by a random one.
            fields.fail("metadata.seed", "must be a whole number from 0 to 18446744073709551615 (a number or a string)")
        }
        var program: String?
        var qubits: Int?
        switch (kind, programValue) {
        case (_, nil):
            fields.fail("program", "is required")
        case (.circuit, .string(let text)?):
            if text.utf8.count > maximumProgramBytes {
                fields.fail("program", "must be at most 10 MB")
            } else {
                do {
                    qubits = try OpenQASM.parse(text).statistics.qubits
                    program = text
                } catch {
                    for diagnostic in error.diagnostics {
                        fields.fail("program", "line \(diagnostic.line), column \(diagnostic.column): \(diagnostic.message)")
                    }
                }
            }
        case (.circuit, _?):
            fields.fail("program", "must be OpenQASM 2.0 text (a string) for a circuit job")
        case (.command, let value?):
            if value.objectValue == nil {
                fields.fail("program", "must be a JSON object for a command job")
            } else if value.bytes.count > maximumProgramBytes {
                fields.fail("program", "must be at most 10 MB")
            } else {
                program = value.text
            }
        case (nil, _?):
            break
        }
        if kind == .command, shotsValue != nil { fields.fail("shots", "applies to circuit jobs only") }
        let idempotencyKey = request.headers["idempotency-key"]
        if let key = idempotencyKey, !(1...255).contains(key.utf8.count) || !key.utf8.allSatisfy({ (33...126).contains($0) }) {
            fields.fail("Idempotency-Key", "must be 1 to 255 visible ASCII characters")
        }
        try fields.finish()
        guard let name, let target, let kind, let program else { throw Problem.internalError }
        let submission = JobSubmission(
            ownerID: identity.principalID, idempotencyKey: idempotencyKey,
            requestHash: idempotencyKey.map { _ in SHA256.hash(request.body) }, name: name, kind: kind, target: target,
            program: program, shots: kind == .circuit ? Int(shotsValue ?? 1024) : nil, priority: Int(priority),
            maxDurationSeconds: Int(maxDuration), metadataJSON: metadata.text, qubits: qubits)
        guard context.services.submits.hasRoom(for: submission) else {
            throw Problem.unavailable("This responder has as many submits waiting for the database as it may hold; try again shortly.")
        }
        throw QueuedSubmit(submission: submission)
    }

    /// The status of a submit that created its job, and the event of its audit row (which `SubmitBatcher` writes
    /// with the job).
    static let createdStatus = 201
    static let createdEvent = "job.created"

    /// The answer to a submission: 201 for a new job, 200 for an Idempotency-Key's replay, 422 for a key reused with
    /// another body, 409 when the key's job was deleted.
    static func submitted(_ outcome: JobStore.SubmitOutcome, context: RequestContext) throws -> Response {
        func answer(_ document: JobDocument, id: Int64, status: Int, event: String) -> Response {
            context.auditEvent = event
            context.auditDetail = [("job_id", .int(id))]
            var response = Response.json(text: document.json, status: status)
            response.headers += [("Location", "/api/v1/jobs/\(id)"), ("X-Switchyard-Index", String(document.version))]
            return response
        }
        switch outcome {
        case .created(let document, let id):
            return answer(document, id: id, status: createdStatus, event: createdEvent)
        case .replayed(let document, let id):
            return answer(document, id: id, status: 200, event: "job.replayed")
        case .keyReused:
            throw Problem(
                .idempotencyKeyReused,
                detail: "This Idempotency-Key was used within 24 hours for a different request body.")
        case .keyJobGone:
            throw Problem.conflict("The job this Idempotency-Key created has been deleted.")
        }
    }

    /// One job; `include=program` adds the program. A blocking query with `index` and `wait` answers when the
    /// job's version passes `index`.
    @Sendable static func get(_ request: Request, _ context: RequestContext) throws -> Response {
        try request.query.requireOnly(["index", "wait", "include"])
        let identity = try context.requireIdentity()
        let id = try jobID(request)
        let withProgram = try includesProgram(request.query)
        let query = try BlockingQuery(request.query)
        let store = JobStore(connection: context.connection)
        return try context.blockingQuery(query, keys: [.job(id)]) {
            guard let document = try store.get(
                id: id, ownerFilter: identity.ownerFilter, withProgram: withProgram, ahead: context.takeReadAhead())
            else {
                throw Problem.notFound("No job \(id).")
            }
            return (document.version, .json(text: document.json))
        }
    }

    /// The job `get` reads, when the request names one well enough to read it. Not for blocking queries: their
    /// read must come after they note the last change they have seen (`blockingQuery`), or they could miss one.
    @Sendable static func prefetchGet(_ request: Request, _ context: RequestContext) {
        guard request.query["index"] == nil, let id = try? jobID(request),
            let withProgram = try? includesProgram(request.query)
        else { return }
        context.readAhead = JobStore.readAhead(id: id, withProgram: withProgram)
    }

    /// The small status document of a job.
    @Sendable static func status(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        let id = try jobID(request)
        guard let document = try JobStore(connection: context.connection).status(id: id, ownerFilter: identity.ownerFilter)
        else { throw Problem.notFound("No job \(id).") }
        var response = Response.json(text: document.json)
        response.headers.append(("X-Switchyard-Index", String(document.version)))
        return response
    }

    /// The caller's jobs (every owner's for administrators, who may filter by `owner`), newest first, filtered by
    /// `status` (comma-separated), `target`, `kind`, `name` (a prefix), `created_after`, `created_before`;
    /// `limit` and `cursor`. A blocking query answers when any visible job changes (the index is the newest event).
    @Sendable static func list(_ request: Request, _ context: RequestContext) throws -> Response {
        let allowed: Set = ["status", "target", "kind", "name", "created_after", "created_before", "owner", "limit", "cursor", "index", "wait"]
        try request.query.requireOnly(allowed)
        let identity = try context.requireIdentity()
        let page = try PageRequest(request.query, default: 50, maximum: 500)
        let query = try BlockingQuery(request.query)
        let store = JobStore(connection: context.connection)
        var filter = JobFilter()
        var errors: [FieldError] = []
        filter.ownerID = identity.ownerFilter
        if let owner = request.query["owner"] {
            if !identity.seesAllOwners {
                errors.append(FieldError(field: "owner", message: "only administrators may list other owners' jobs"))
            } else if let id = try store.principalID(name: owner) {
                filter.ownerID = id
            } else {
                errors.append(FieldError(field: "owner", message: "no principal \(owner)"))
            }
        }
        if let text = request.query["status"] {
            let states = text.split(separator: ",").map { JobState(rawValue: String($0)) }
            if states.contains(where: { $0 == nil }) || states.isEmpty {
                errors.append(FieldError(field: "status", message: "must be job states separated by commas"))
            } else {
                filter.states = states.compactMap { $0 }
            }
        }
        if let target = request.query["target"] {
            if JobTarget(target) == nil { errors.append(FieldError(field: "target", message: "is not a target")) }
            filter.target = target
        }
        if let kind = request.query["kind"] {
            filter.kind = JobKind(rawValue: kind)
            if filter.kind == nil { errors.append(FieldError(field: "kind", message: "must be circuit or command")) }
        }
        filter.namePrefix = request.query["name"]
        for (name, keyPath) in [("created_after", \JobFilter.createdAfter), ("created_before", \JobFilter.createdBefore)] {
            guard let text = request.query[name] else { continue }
            guard let value = Timestamp(rfc3339: text) else {
                errors.append(FieldError(field: name, message: "must be an RFC 3339 timestamp"))
                continue
            }
            filter[keyPath: keyPath] = value
        }
        var beforeID: Int64?
        if let cursor = page.cursor {
            if let id = Int64(cursor), id > 0 { beforeID = id } else {
                errors.append(FieldError(field: "cursor", message: "is not a cursor from this list"))
            }
        }
        if !errors.isEmpty { throw Problem.validation(errors) }
        let keys: [WaitKey] = filter.ownerID.map { [.owner($0)] } ?? [.all]
        return try context.blockingQuery(query, keys: keys) {
            let head = try store.sequenceEvents() > 0 ? try store.eventsHead(ownerFilter: filter.ownerID) : 0
            let rows = try store.list(filter, beforeID: beforeID, limit: page.limit + 1)
            let shown = rows.prefix(page.limit)
            let next: JSON = rows.count > page.limit ? .string(String(shown.last!.id)) : .null
            return (head, .json(.object([("items", .array(shown.map { .fragment($0.json) })), ("next_cursor", next)])))
        }
    }

    /// The result of a finished job (counts and run facts for circuits); 409 naming the state until then.
    @Sendable static func results(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        let id = try jobID(request)
        guard let found = try JobStore(connection: context.connection).results(id: id, ownerFilter: identity.ownerFilter)
        else { throw Problem.notFound("No job \(id).") }
        guard found.state.isFinal else {
            throw Problem.conflict(
                "Job \(id) is \(found.state.rawValue); results exist once it has finished.",
                extensions: [("current_state", .string(found.state.rawValue))])
        }
        return .json(text: found.json)
    }

    /// Cancels a queued or scheduled job at once; a running one becomes cancel-requested until its executor stops.
    @Sendable static func cancel(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        let id = try jobID(request)
        return try context.transaction {
            let store = JobStore(connection: context.connection)
            guard let document = try store.cancel(id: id, ownerFilter: identity.ownerFilter) else {
                throw try conflictOrMissing(store, id: id, identity: identity, action: "cancelled")
            }
            context.auditEvent = "job.cancel"
            context.auditDetail = [("job_id", .int(id))]
            return .json(text: document.json)
        }
    }

    /// Gives a running job `seconds` (1–3600) more, at most 24 hours beyond its `max_duration_s` in all.
    @Sendable static func extend(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        let id = try jobID(request)
        var fields = FieldReader(try request.jsonObject())
        let seconds = fields.int("seconds", required: true, range: 1...3600)
        try fields.finish()
        guard let seconds else { throw Problem.internalError }
        return try context.transaction {
            let store = JobStore(connection: context.connection)
            guard let document = try store.extend(id: id, ownerFilter: identity.ownerFilter, seconds: Int(seconds)) else {
                if try store.state(id: id, ownerFilter: identity.ownerFilter) == .running {
                    throw Problem.conflict("A job may be extended by at most 24 hours in all; this extension would pass that.")
                }
                throw try conflictOrMissing(store, id: id, identity: identity, action: "extended (only running jobs are)")
            }
            context.auditEvent = "job.extend"
            context.auditDetail = [("job_id", .int(id)), ("seconds", .int(seconds))]
            return .json(text: document.json)
        }
    }

    /// Queues a failed, cancelled or timed-out job again while it has attempts left.
    @Sendable static func retry(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        let id = try jobID(request)
        return try context.transaction {
            let store = JobStore(connection: context.connection)
            guard let document = try store.retry(id: id, ownerFilter: identity.ownerFilter) else {
                let state = try store.state(id: id, ownerFilter: identity.ownerFilter)
                if let state, [.failed, .cancelled, .timedOut].contains(state), let attempts = try store.attempts(id: id) {
                    throw Problem.conflict(
                        "Job \(id) has used \(attempts.attempt) of its \(attempts.maxAttempts) attempts.",
                        extensions: [("current_state", .string(state.rawValue))])
                }
                throw try conflictOrMissing(store, id: id, identity: identity, action: "retried (only unsuccessful finished jobs are)")
            }
            context.auditEvent = "job.retry"
            context.auditDetail = [("job_id", .int(id))]
            return .json(text: document.json)
        }
    }

    /// Deletes a finished job.
    @Sendable static func delete(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        let id = try jobID(request)
        return try context.transaction {
            let store = JobStore(connection: context.connection)
            guard try store.delete(id: id, ownerFilter: identity.ownerFilter) else {
                throw try conflictOrMissing(store, id: id, identity: identity, action: "deleted (only finished jobs are)")
            }
            context.auditEvent = "job.deleted"
            context.auditDetail = [("job_id", .int(id))]
            return .noContent
        }
    }

    /// Counts by state and target, and the oldest queued job's age.
    @Sendable static func queueStats(_ request: Request, _ context: RequestContext) throws -> Response {
        .json(text: try JobStore(connection: context.connection).queueStats())
    }

    /// The caller's job events after `after` (an event id), in commit order, none skipped or repeated; with `wait`
    /// it blocks until there is one. `limit` 1–1000 (default 100); `next_after` continues the stream.
    @Sendable static func events(_ request: Request, _ context: RequestContext) throws -> Response {
        try request.query.requireOnly(["after", "wait", "limit"])
        let identity = try context.requireIdentity()
        let after = try BlockingQuery.index(request.query, name: "after")
        let page = try PageRequest(request.query, default: 100, maximum: 1000)
        let query = BlockingQuery(index: after, waitSeconds: try BlockingQuery.wait(request.query))
        let store = JobStore(connection: context.connection)
        let keys: [WaitKey] = identity.ownerFilter.map { [.owner($0)] } ?? [.all]
        return try context.blockingQuery(query, keys: keys) {
            try store.sequenceEvents()
            let events = try store.events(after: after, ownerFilter: identity.ownerFilter, limit: page.limit)
            let last = events.last?.seq ?? after
            return (
                last,
                .json(.object([("items", .array(events.map { .fragment($0.json) })), ("next_after", .int(last))]))
            )
        }
    }

    /// A sampling seed the simulator reads as it was written: a non-negative integer, or a string of one.
    static func isSeed(_ value: JSON) -> Bool {
        switch value {
        case .int(let number): number >= 0
        case .string(let text): UInt64(text) != nil
        default: false
        }
    }

    static func jobID(_ request: Request) throws -> Int64 {
        guard let text = request.pathParameters["id"], let id = Int64(text), id > 0 else {
            throw Problem.notFound("No such job.")
        }
        return id
    }

    private static func includesProgram(_ query: QueryParameters) throws -> Bool {
        guard let include = query["include"] else { return false }
        guard include == "program" else { throw Problem.invalidField("include", "may only be program") }
        return true
    }

    /// 404 when the job is not visible, else 409 naming its state.
    private static func conflictOrMissing(_ store: JobStore, id: Int64, identity: Identity, action: String) throws -> Problem {
        guard let state = try store.state(id: id, ownerFilter: identity.ownerFilter) else {
            return Problem.notFound("No job \(id).")
        }
        return Problem.conflict(
            "Job \(id) is \(state.rawValue) and cannot be \(action).", extensions: [("current_state", .string(state.rawValue))])
    }

}

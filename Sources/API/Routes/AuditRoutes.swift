import Domain
import Store
import Web

/// Reading the audit trail: filtered pages, single rows, and an NDJSON export streamed page by page.
struct AuditRoutes {
    func register(in router: inout Router<RequestContext>) {
        let read = Access.permission(Permission(literal: "audit:read"))
        router.add("GET", "/api/v1/audit", access: read, handler: Self.list)
        router.add("GET", "/api/v1/audit/export", access: read, handler: Self.export)
        router.add("GET", "/api/v1/audit/{id}", access: read, handler: Self.get)
    }

    /// Rows export reads per database round trip; the response never holds more than one page in memory.
    static let exportPageSize = 1000

    /// Newest first, filtered by `principal`, `event`, `route`, `status`, `from`, `to`; `limit` and `cursor`.
    @Sendable static func list(_ request: Request, _ context: RequestContext) throws -> Response {
        let allowed: Set = ["principal", "event", "route", "status", "from", "to", "limit", "cursor"]
        try request.query.requireOnly(allowed)
        // Every bad parameter is named in one answer.
        var errors: [FieldError] = []
        func collecting<T>(_ read: () throws -> T) throws -> T? {
            do { return try read() } catch let problem as Problem where !problem.errors.isEmpty {
                errors += problem.errors
                return nil
            }
        }
        let page = try collecting { try PageRequest(request.query) }
        var filter = AuditFilter(
            principalName: request.query["principal"], event: request.query["event"], route: request.query["route"])
        if let text = request.query["status"] {
            if let status = Int(text), (100...599).contains(status) {
                filter.status = status
            } else {
                errors.append(FieldError(field: "status", message: "must be an HTTP status code"))
            }
        }
        if let range = try collecting({ try timeRange(request.query) }) { (filter.from, filter.to) = range }
        var beforeID: Int64?
        if let cursor = page?.cursor {
            beforeID = Int64(cursor)
            if beforeID == nil { errors.append(FieldError(field: "cursor", message: "is not a cursor from this list")) }
        }
        guard errors.isEmpty, let page else { throw Problem.validation(errors) }
        let rows = try AuditStore(connection: context.connection).list(filter, beforeID: beforeID, limit: page.limit + 1)
        let shown = rows.prefix(page.limit)
        let next: JSON = rows.count > page.limit ? .string(String(shown.last!.id)) : .null
        return .json(.object([("items", .array(shown.map { .fragment($0.json) })), ("next_cursor", next)]))
    }

    @Sendable static func get(_ request: Request, _ context: RequestContext) throws -> Response {
        guard let id = request.pathParameters["id"].flatMap(Int64.init) else { throw Problem.notFound("No such audit row.") }
        guard let json = try AuditStore(connection: context.connection).get(id: id) else {
            throw Problem.notFound("No audit row \(id).")
        }
        return .json(text: json)
    }

    /// Every row with `from` ≤ at < `to` (both optional), oldest first, one JSON object per line
    /// (`application/x-ndjson`), written page by page as it is read.
    ///
    /// The first page is read before the status goes out, so a database that fails at once gets its problem
    /// response; a later page that fails cuts the connection (`FastCGIRequest.abort`), so a client never takes a
    /// short export for a whole one.
    @Sendable static func export(_ request: Request, _ context: RequestContext) throws -> Response {
        try request.query.requireOnly(["from", "to"])
        let (from, to) = try timeRange(request.query)
        let store = AuditStore(connection: context.connection)
        let firstPage = try store.exportPage(from: from, to: to, afterID: 0, limit: exportPageSize)
        return Response(status: 200, headers: [("Content-Type", "application/x-ndjson")]) { writer in
            var page = firstPage
            while true {
                let rows = page
                guard let last = rows.last else { return }
                var chunk: [UInt8] = []
                for row in rows {
                    chunk.append(contentsOf: row.json.utf8)
                    chunk.append(0x0A)
                }
                try writer.write(chunk)
                if rows.count < exportPageSize { return }
                page = try store.exportPage(from: from, to: to, afterID: last.id, limit: exportPageSize)
            }
        }
    }

    private static func timeRange(_ query: QueryParameters) throws -> (Timestamp?, Timestamp?) {
        var errors: [FieldError] = []
        var bounds: [Timestamp?] = []
        for name in ["from", "to"] {
            guard let text = query[name] else {
                bounds.append(nil)
                continue
            }
            guard let value = Timestamp(rfc3339: text) else {
                errors.append(FieldError(field: name, message: "must be an RFC 3339 timestamp"))
                bounds.append(nil)
                continue
            }
            bounds.append(value)
        }
        if !errors.isEmpty { throw Problem.validation(errors) }
        return (bounds[0], bounds[1])
    }

}

import Domain
import Postgres
import Store
import Web

/// Roles: the built-in ones and custom ones, each with permissions and rate limits.
struct RoleRoutes {
    func register(in router: inout Router<RequestContext>) {
        router.add("GET", "/api/v1/roles", access: .permission(Permission(literal: "role:read")), handler: Self.list)
        router.add("PUT", "/api/v1/roles/{name}", access: .permission(Permission(literal: "role:write")), handler: Self.put)
        router.add("DELETE", "/api/v1/roles/{name}", access: .permission(Permission(literal: "role:write")), handler: Self.delete)
    }

    @Sendable static func list(_ request: Request, _ context: RequestContext) throws -> Response {
        let roles = try RoleStore(connection: context.connection).list()
        return .json(.object([("items", .array(roles.map(Self.json)))]))
    }

    /// Creates or replaces a role: `permissions` (required), `description`, `rate_per_minute`, `rate_per_hour`,
    /// `rate_burst` (defaults 100, 1000, 50). A built-in role keeps its permissions; its limits may change.
    @Sendable static func put(_ request: Request, _ context: RequestContext) throws -> Response {
        let name = request.pathParameters["name"] ?? ""
        var fields = FieldReader(try request.jsonObject())
        if let message = Validation.roleName(name) { fields.fail("name", message) }
        let permissions = fields.stringList("permissions", required: true) { Permission($0) == nil ? "is not a permission" : nil }
        let description = fields.string("description") { Validation.text($0, limit: 500) } ?? ""
        let perMinute = fields.int("rate_per_minute", range: 1...1_000_000) ?? 100
        let perHour = fields.int("rate_per_hour", range: 1...100_000_000) ?? 1000
        let burst = fields.int("rate_burst", range: 1...1_000_000) ?? 50
        try fields.finish()
        guard let permissions else { throw Problem.internalError }
        let definition = RoleDefinition(
            name: name, description: description, permissions: PermissionSet(permissions.compactMap(Permission.init)).grants.map(\.value),
            ratePerMinute: Int(perMinute), ratePerHour: Int(perHour), rateBurst: Int(burst))
        return try context.transaction {
            switch try RoleStore(connection: context.connection).upsert(definition) {
            case .builtinPermissionsFixed:
                throw Problem.conflict("\(name) is a built-in role: its permissions cannot change.")
            case .created(let record):
                context.auditEvent = "role.created"
                context.auditDetail = [("role", .string(name)), ("permissions", .array(record.permissions.map(JSON.string)))]
                return .json(Self.json(record), status: 201)
            case .replaced(let record):
                context.auditEvent = "role.updated"
                context.auditDetail = [("role", .string(name)), ("permissions", .array(record.permissions.map(JSON.string)))]
                return .json(Self.json(record))
            }
        }
    }

    /// Deletes a custom role; 409 for a built-in role or one that principals still hold.
    @Sendable static func delete(_ request: Request, _ context: RequestContext) throws -> Response {
        let name = request.pathParameters["name"] ?? ""
        return try context.transaction {
            let result: RoleStore.DeleteResult
            do {
                result = try RoleStore(connection: context.connection).delete(name: name)
            } catch let error as DatabaseError where error.constraint == "principal_role_role_name_fkey" {
                throw Problem.conflict("Principals still hold the role \(name); take it from them first.")
            }
            switch result {
            case .notFound: throw Problem.notFound("No role \(name).")
            case .builtin: throw Problem.conflict("\(name) is a built-in role and cannot be deleted.")
            case .deleted:
                context.auditEvent = "role.deleted"
                context.auditDetail = [("role", .string(name))]
                return .noContent
            }
        }
    }

    static func json(_ record: RoleRecord) -> JSON {
        .object([
            ("name", .string(record.name)), ("description", .string(record.description)),
            ("permissions", .array(record.permissions.map(JSON.string))), ("builtin", .bool(record.isBuiltin)),
            ("rate_per_minute", .int(Int64(record.ratePerMinute))), ("rate_per_hour", .int(Int64(record.ratePerHour))),
            ("rate_burst", .int(Int64(record.rateBurst))), ("created_at", .string(record.createdAt.rfc3339)),
            ("updated_at", .string(record.updatedAt.rfc3339)),
        ])
    }
}

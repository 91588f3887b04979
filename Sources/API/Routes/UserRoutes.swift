import Domain
import OpenSSL
import Postgres
import Store
import Web

/// Administration of principals (people, services, agents): create, list, read, change, delete.
struct UserRoutes {
    func register(in router: inout Router<RequestContext>) {
        router.add("POST", "/api/v1/users", access: .permission(Permission(literal: "user:create")), handler: Self.create)
        router.add("GET", "/api/v1/users", access: .permission(Permission(literal: "user:read")), handler: Self.list)
        router.add("GET", "/api/v1/users/{name}", access: .permission(Permission(literal: "user:read")), handler: Self.get)
        router.add("PATCH", "/api/v1/users/{name}", access: .permission(Permission(literal: "user:update")), handler: Self.update)
        router.add("DELETE", "/api/v1/users/{name}", access: .permission(Permission(literal: "user:delete")), handler: Self.delete)
    }

    /// Creates a principal: `username`, optional `display_name`, `email`, `password`, `roles` (default `user`),
    /// `kind` (`user`, `service`, `agent`).
    @Sendable static func create(_ request: Request, _ context: RequestContext) throws -> Response {
        var fields = FieldReader(try request.jsonObject())
        let name = fields.string("username", required: true, validate: Validation.principalName)
        let displayName = fields.string("display_name") { Validation.text($0, limit: 200) } ?? ""
        let email = fields.string("email", validate: Validation.email)
        let password = fields.string("password", validate: Validation.password)
        let roles = fields.stringList("roles", validate: Validation.roleName) ?? ["user"]
        let kind = fields.string("kind") { PrincipalKind(rawValue: $0) == nil ? "must be user, service or agent" : nil }
        try fields.finish()
        guard let name else { throw Problem.internalError }
        let passwordHash = try password.map { try PasswordHash.make(password: $0, iterations: context.config.passwordIterations) }
        return try context.transaction {
            let record: PrincipalRecord
            do {
                record = try PrincipalStore(connection: context.connection).create(
                    name: name, kind: kind.flatMap(PrincipalKind.init) ?? .user, displayName: displayName, email: email,
                    passwordHash: passwordHash, roles: roles)
            } catch let error as DatabaseError where error.constraint == "principal_name_unique" {
                throw Problem.conflict("A principal named \(name) already exists.")
            } catch let error as DatabaseError where error.constraint == "principal_role_role_name_fkey" {
                throw Problem.invalidField("roles", "names a role that does not exist")
            }
            context.auditEvent = "user.created"
            context.auditDetail = [("user", .string(name)), ("roles", .array(roles.map(JSON.string)))]
            var response = Response.json(Self.json(record), status: 201)
            response.headers.append(("Location", "/api/v1/users/\(name)"))
            return response
        }
    }

    /// Principals by name, `limit` per page, `cursor` from the previous page's `next_cursor`.
    @Sendable static func list(_ request: Request, _ context: RequestContext) throws -> Response {
        let page = try PageRequest(request.query)
        let records = try PrincipalStore(connection: context.connection).list(after: page.cursor, limit: page.limit + 1)
        let shown = records.prefix(page.limit)
        let next: JSON = records.count > page.limit ? .string(shown.last!.name) : .null
        return .json(.object([("items", .array(shown.map(Self.json))), ("next_cursor", next)]))
    }

    @Sendable static func get(_ request: Request, _ context: RequestContext) throws -> Response {
        let name = request.pathParameters["name"] ?? ""
        guard let record = try PrincipalStore(connection: context.connection).get(name: name) else {
            throw Problem.notFound("No principal \(name).")
        }
        return .json(Self.json(record))
    }

    /// Changes `display_name`, `email` (empty clears it), `active`, `roles` (replaces them) or `password`.
    @Sendable static func update(_ request: Request, _ context: RequestContext) throws -> Response {
        let name = request.pathParameters["name"] ?? ""
        var fields = FieldReader(try request.jsonObject())
        let displayName = fields.string("display_name") { Validation.text($0, limit: 200) }
        let email = fields.string("email") { $0.isEmpty ? nil : Validation.email($0) }
        let isActive = fields.bool("active")
        let roles = fields.stringList("roles", validate: Validation.roleName)
        let password = fields.string("password", validate: Validation.password)
        try fields.finish()
        let passwordHash = try password.map { try PasswordHash.make(password: $0, iterations: context.config.passwordIterations) }
        return try context.transaction {
            let record: PrincipalRecord?
            do {
                record = try PrincipalStore(connection: context.connection).update(
                    name: name, displayName: displayName, email: email, isActive: isActive, passwordHash: passwordHash,
                    roles: roles)
            } catch let error as DatabaseError where error.constraint == "principal_role_role_name_fkey" {
                throw Problem.invalidField("roles", "names a role that does not exist")
            }
            guard let record else { throw Problem.notFound("No principal \(name).") }
            var changed: [JSON] = []
            if displayName != nil { changed.append(.string("display_name")) }
            if email != nil { changed.append(.string("email")) }
            if isActive != nil { changed.append(.string("active")) }
            if roles != nil { changed.append(.string("roles")) }
            if password != nil { changed.append(.string("password")) }
            context.auditEvent = password != nil ? "user.password_changed" : "user.updated"
            context.auditDetail = [("user", .string(name)), ("changed", .array(changed))]
            if let roles { context.auditDetail.append(("roles", .array(roles.map(JSON.string)))) }
            return .json(Self.json(record))
        }
    }

    /// Deactivates and hides a principal and revokes its keys; its jobs and audit rows stay.
    @Sendable static func delete(_ request: Request, _ context: RequestContext) throws -> Response {
        let name = request.pathParameters["name"] ?? ""
        return try context.transaction {
            guard try PrincipalStore(connection: context.connection).delete(name: name) else {
                throw Problem.notFound("No principal \(name).")
            }
            context.auditEvent = "user.deleted"
            context.auditDetail = [("user", .string(name))]
            return .noContent
        }
    }

    static func json(_ record: PrincipalRecord) -> JSON {
        .object([
            ("id", .int(record.id)), ("username", .string(record.name)), ("kind", .string(record.kind.rawValue)),
            ("display_name", .string(record.displayName)), ("email", record.email.map(JSON.string) ?? .null),
            ("active", .bool(record.isActive)), ("external", .bool(record.isExternal)),
            ("roles", .array(record.roles.map(JSON.string))), ("created_at", .string(record.createdAt.rfc3339)),
            ("updated_at", .string(record.updatedAt.rfc3339)),
        ])
    }
}

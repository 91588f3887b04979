import Domain
import Store
import Web

/// The caller's API keys: create, list, revoke, rotate. The secret is shown once, at creation.
struct KeyRoutes {
    func register(in router: inout Router<RequestContext>) {
        router.add("POST", "/api/v1/keys", access: .authenticated, handler: Self.create)
        router.add("GET", "/api/v1/keys", access: .authenticated, handler: Self.list)
        router.add("DELETE", "/api/v1/keys/{prefix}", access: .authenticated, handler: Self.revoke)
        router.add("POST", "/api/v1/keys/rotate", access: .authenticated, handler: Self.rotate)
    }

    /// The longest grace period a rotation may give the old key.
    static let maximumGraceSeconds: Int64 = 7 * 24 * 3600

    /// Creates a long-lived key with `scopes` (default: everything the caller may do now), an optional
    /// `description` and an optional `expires_at` or `ttl_hours`. Scopes beyond the caller's permissions are refused.
    @Sendable static func create(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        var fields = FieldReader(try request.jsonObject())
        let description = fields.string("description") { Validation.text($0, limit: 200) } ?? ""
        let scopes = fields.stringList("scopes") { Permission($0) == nil ? "is not a permission" : nil }
        let expiresAt = fields.timestamp("expires_at")
        let ttlHours = fields.int("ttl_hours", range: 1...(24 * 3650))
        if let expiresAt, expiresAt <= context.receivedAt { fields.fail("expires_at", "must be in the future") }
        if expiresAt != nil, ttlHours != nil { fields.fail("ttl_hours", "give either expires_at or ttl_hours") }
        let requested = PermissionSet((scopes ?? identity.permissions.grants.map(\.value)).compactMap(Permission.init))
        let beyond = requested.grants.filter { !identity.permissions.covers(PermissionSet([$0])) }
        if !beyond.isEmpty {
            fields.fail("scopes", "not within your permissions: \(beyond.map(\.value).joined(separator: ", "))")
        }
        try fields.finish()
        let expiry = expiresAt ?? ttlHours.map { context.receivedAt.adding(seconds: $0 * 3600) }
        return try context.transaction {
            let (key, prefix, hash) = try ApiKeySecret.generate()
            let record = try ApiKeyStore(connection: context.connection).insert(
                prefix: prefix, hash: hash, principalID: identity.principalID, isSession: false,
                scopes: requested.grants.map(\.value), description: description, expiresAt: expiry)
            context.auditEvent = "key.created"
            context.auditDetail = [("key_id", .string(prefix))]
            var response = Response.json(Self.json(record, key: key), status: 201)
            response.headers.append(("Location", "/api/v1/keys/\(prefix)"))
            return response
        }
    }

    /// The caller's keys, newest first, without secrets.
    @Sendable static func list(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        let keys = try ApiKeyStore(connection: context.connection).list(principalID: identity.principalID)
        return .json(.object([("items", .array(keys.map { Self.json($0, key: nil) }))]))
    }

    /// Revokes a key at once, on every process (each request looks its key up). Another owner's key is 404.
    @Sendable static func revoke(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        let prefix = request.pathParameters["prefix"] ?? ""
        return try context.transaction {
            guard let revoked = try ApiKeyStore(connection: context.connection).revoke(
                prefix: prefix, ownerFilter: identity.ownerFilter)
            else { throw Problem.notFound("No key \(prefix).") }
            try Self.requireReach(revoked, identity: identity)
            context.auditEvent = "key.revoked"
            context.auditDetail = [("key_id", .string(prefix))]
            return .noContent
        }
    }

    /// Replaces a key (`key_id`, default: the one this request used) with a new one of the same scopes and
    /// lifetime; the old key stops now or after `grace_seconds` (up to a week).
    @Sendable static func rotate(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        var fields = FieldReader(request.body.isEmpty ? .object([]) : try request.jsonObject())
        let prefix = fields.string("key_id") ?? identity.credential.keyPrefix
        let grace = fields.int("grace_seconds", range: 0...maximumGraceSeconds) ?? 0
        if prefix == nil { fields.fail("key_id", "is required when the request is not made with an API key") }
        try fields.finish()
        guard let prefix else { throw Problem.internalError }
        return try context.transaction {
            let keys = ApiKeyStore(connection: context.connection)
            guard let old = try keys.lockForRotation(prefix: prefix, principalID: identity.principalID) else {
                throw Problem.notFound("No usable key \(prefix).")
            }
            try Self.requireReach(old, identity: identity)
            let lifetime = old.expiresAt.map { $0.microseconds - old.createdAt.microseconds }
            let (key, newPrefix, hash) = try ApiKeySecret.generate()
            let replacement = try keys.insert(
                prefix: newPrefix, hash: hash, principalID: identity.principalID, isSession: old.isSession,
                scopes: old.scopes, description: old.description,
                expiresAt: lifetime.map { Timestamp(microseconds: context.receivedAt.microseconds + $0) })
            guard let retired = try keys.retire(keyID: old.id, graceSeconds: Int(grace), replacementID: replacement.id) else {
                throw Problem.notFound("No usable key \(prefix).")
            }
            context.auditEvent = "key.rotated"
            context.auditDetail = [("key_id", .string(prefix)), ("replacement_key_id", .string(newPrefix))]
            var response = Response.json(
                .object([("key", Self.json(replacement, key: key)), ("replaced", Self.json(retired, key: nil))]), status: 201)
            response.headers.append(("Location", "/api/v1/keys/\(newPrefix)"))
            return response
        }
    }

    /// Refuses (403, and the transaction rolls back) when the caller's credential may not already do everything
    /// `record` can: a key scoped to `job:read` cannot rotate or revoke its owner's wider keys.
    static func requireReach(_ record: ApiKeyRecord, identity: Identity) throws {
        let scopes = PermissionSet(record.scopes.compactMap(Permission.init))
        guard identity.reaches(keyOf: record.principalID, scopes: scopes) else {
            throw Problem(
                .forbidden,
                detail: "Key \(record.prefix) can do more than the credential of this request; use a credential that "
                    + "covers its scopes.")
        }
    }

    static func json(_ record: ApiKeyRecord, key: String?) -> JSON {
        var members: [(String, JSON)] = []
        if let key { members.append(("key", .string(key))) }
        members += [
            ("key_id", .string(record.prefix)), ("kind", .string(record.isSession ? "session" : "long_lived")),
            ("description", .string(record.description)), ("scopes", .array(record.scopes.map(JSON.string))),
            ("created_at", .string(record.createdAt.rfc3339)),
            ("expires_at", record.expiresAt.map { .string($0.rfc3339) } ?? .null),
            ("last_used_at", record.lastUsedAt.map { .string($0.rfc3339) } ?? .null),
            ("revoked_at", record.revokedAt.map { .string($0.rfc3339) } ?? .null),
        ]
        return .object(members)
    }
}

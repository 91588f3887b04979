import Domain
import Postgres

/// Principals, their roles, passwords and client certificates.
public struct PrincipalStore {
    private let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// Creates a principal with roles. Throws `DatabaseError` on a taken name (principal_name_unique) or an unknown
    /// role (principal_role_role_name_fkey); callers turn those into field errors.
    public func create(
        name: String, kind: PrincipalKind, displayName: String, email: String?, passwordHash: String?, roles: [String]
    ) throws -> PrincipalRecord {
        guard let record = try connection.first(
            PrincipalInsert(
                name: name, kind: kind, displayName: displayName, email: email, passwordHash: passwordHash, roles: roles))
        else { throw DatabaseError(sqlState: SQLState("P0002"), message: "insert returned no row") }
        return record
    }

    /// The principal with this name, or nil (deleted ones included in nil).
    public func get(name: String) throws -> PrincipalRecord? {
        try connection.first(PrincipalGetByName(name: name))
    }

    /// Up to `limit` principals after `afterName`, by name.
    public func list(after afterName: String?, limit: Int) throws -> [PrincipalRecord] {
        try connection.rows(PrincipalList(afterName: afterName, limit: limit))
    }

    /// Changes the given fields (nil: unchanged); returns nil when there is no such principal.
    public func update(
        name: String, displayName: String? = nil, email: String? = nil, isActive: Bool? = nil,
        passwordHash: String? = nil, roles: [String]? = nil
    ) throws -> PrincipalRecord? {
        try connection.first(
            PrincipalUpdate(
                name: name, displayName: displayName, email: email, isActive: isActive, passwordHash: passwordHash,
                roles: roles))
    }

    /// Deactivates and hides a principal and revokes its keys; returns false when there is no such principal.
    public func delete(name: String) throws -> Bool {
        try connection.first(PrincipalDelete(name: name)) != nil
    }

    /// The id, password hash and activity of the principal named `name`, for a login.
    public func credentials(name: String) throws -> (id: Int64, passwordHash: String?, isActive: Bool)? {
        try connection.first(PrincipalCredentials(name: name))
    }

    /// Registers a TLS client certificate for a principal; returns false when there is no such principal.
    public func registerCertificate(
        fingerprint: [UInt8], principalName: String, subject: String, notAfter: Timestamp, description: String
    ) throws -> Bool {
        try connection.first(
            CertificateInsert(
                fingerprint: fingerprint, principalName: principalName, subject: subject, notAfter: notAfter,
                description: description)) != nil
    }
}

/// API keys: issuing, listing, revoking and rotating. Secrets never reach this layer, only their hashes.
public struct ApiKeyStore {
    private let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// Stores a new key by its prefix and hash.
    public func insert(
        prefix: String, hash: [UInt8], principalID: Int64, isSession: Bool, scopes: [String], description: String,
        expiresAt: Timestamp?
    ) throws -> ApiKeyRecord {
        guard let record = try connection.first(
            ApiKeyInsert(
                prefix: prefix, hash: hash, principalID: principalID, isSession: isSession, scopes: scopes,
                description: description, expiresAt: expiresAt))
        else { throw DatabaseError(sqlState: SQLState("P0002"), message: "insert returned no row") }
        return record
    }

    /// A principal's keys, newest first.
    public func list(principalID: Int64) throws -> [ApiKeyRecord] {
        try connection.rows(ApiKeyListByPrincipal(principalID: principalID))
    }

    /// Revokes a key now; nil when no key visible to the caller has this prefix.
    public func revoke(prefix: String, ownerFilter: Int64?) throws -> ApiKeyRecord? {
        try connection.first(ApiKeyRevoke(prefix: prefix, ownerFilter: ownerFilter))
    }

    /// Locks a usable key of `principalID` for rotation (inside a transaction); nil when there is none.
    public func lockForRotation(prefix: String, principalID: Int64) throws -> ApiKeyRecord? {
        try connection.first(ApiKeyLockForRotation(prefix: prefix, principalID: principalID))
    }

    /// Lets a rotated key work for `graceSeconds` more and records its replacement.
    public func retire(keyID: Int64, graceSeconds: Int, replacementID: Int64) throws -> ApiKeyRecord? {
        try connection.first(ApiKeyRetire(keyID: keyID, graceSeconds: graceSeconds, replacementID: replacementID))
    }
}

/// Roles: the built-in ones and custom ones stored by administrators.
public struct RoleStore {
    private let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// Every role, by name.
    public func list() throws -> [RoleRecord] {
        try connection.rows(RoleList())
    }

    /// The outcome of storing a role.
    public enum UpsertResult {
        case created(RoleRecord)
        case replaced(RoleRecord)
        /// The role is built in and the request would change its permissions.
        case builtinPermissionsFixed
    }

    /// Creates or replaces a role.
    public func upsert(_ role: RoleDefinition) throws -> UpsertResult {
        guard let (record, isNew) = try connection.first(RoleUpsert(role: role)) else { return .builtinPermissionsFixed }
        return isNew ? .created(record) : .replaced(record)
    }

    /// The outcome of deleting a role.
    public enum DeleteResult {
        case deleted
        case notFound
        case builtin
    }

    /// Deletes a custom role. Throws `DatabaseError` (principal_role_role_name_fkey) when principals still hold it.
    public func delete(name: String) throws -> DeleteResult {
        if try connection.first(RoleDelete(name: name)) != nil { return .deleted }
        return try connection.first(RoleIsBuiltin(name: name)) == true ? .builtin : .notFound
    }
}

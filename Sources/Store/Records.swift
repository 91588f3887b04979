import Domain

/// A principal as the admin API shows it.
public struct PrincipalRecord: Sendable, Equatable {
    public let id: Int64
    public let name: String
    public let kind: PrincipalKind
    public let displayName: String
    public let email: String?
    public let isActive: Bool
    /// Created from a trusted identity provider's token rather than by an administrator.
    public let isExternal: Bool
    public let roles: [String]
    public let createdAt: Timestamp
    public let updatedAt: Timestamp
}

/// An API key without its secret: what listing and revoking return.
public struct ApiKeyRecord: Sendable, Equatable {
    public let id: Int64
    /// The public key id (`sy_` and 9 characters), the first 12 characters of the key.
    public let prefix: String
    public let principalID: Int64
    /// A short-lived key from a login rather than a long-lived key.
    public let isSession: Bool
    public let scopes: [String]
    public let description: String
    public let createdAt: Timestamp
    public let expiresAt: Timestamp?
    public let lastUsedAt: Timestamp?
    /// When the key stops (or stopped) working; in the future during a rotation's grace period.
    public let revokedAt: Timestamp?
}

/// A role with its permissions and rate limits.
public struct RoleRecord: Sendable, Equatable {
    public let name: String
    public let description: String
    public let permissions: [String]
    public let isBuiltin: Bool
    public let ratePerMinute: Int
    public let ratePerHour: Int
    public let rateBurst: Int
    public let createdAt: Timestamp
    public let updatedAt: Timestamp
}

/// What `PUT /roles/{name}` asks for.
public struct RoleDefinition: Sendable, Equatable {
    public let name: String
    public let description: String
    public let permissions: [String]
    public let ratePerMinute: Int
    public let ratePerHour: Int
    public let rateBurst: Int

    public init(name: String, description: String, permissions: [String], ratePerMinute: Int, ratePerHour: Int, rateBurst: Int) {
        self.name = name
        self.description = description
        self.permissions = permissions
        self.ratePerMinute = ratePerMinute
        self.ratePerHour = ratePerHour
        self.rateBurst = rateBurst
    }
}

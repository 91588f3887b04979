/// What kind of party a principal is; agents and nodes share the principal table with people.
public enum PrincipalKind: String, Sendable, CaseIterable {
    case user, service, agent
}

/// How a request proved who it is.
public enum CredentialKind: String, Sendable {
    /// A long-lived API key (`sy_…`).
    case apiKey = "api_key"
    /// A short-lived key from `POST /auth/login`.
    case sessionKey = "session_key"
    /// A signed JSON Web Token.
    case token = "jwt"
    /// A TLS client certificate verified by nginx.
    case certificate
}

/// The credential behind an authenticated request, as `/me` and the audit trail report it.
public struct Credential: Sendable, Equatable {
    public let kind: CredentialKind
    /// The public id of the API or session key: the one presented, or for a token of Switchyard's own, the one it
    /// was made with.
    public let keyPrefix: String?
    /// When the credential stops working, if it does.
    public let expiresAt: Timestamp?

    public init(kind: CredentialKind, keyPrefix: String? = nil, expiresAt: Timestamp? = nil) {
        self.kind = kind
        self.keyPrefix = keyPrefix
        self.expiresAt = expiresAt
    }
}

/// An authenticated caller: the principal, its roles, what it may do through this credential, and how.
public struct Identity: Sendable, Equatable {
    public let principalID: Int64
    public let principalName: String
    public let principalKind: PrincipalKind
    public let roles: [String]
    /// Effective permissions: the principal's, narrowed by the credential's scopes.
    public let permissions: PermissionSet
    /// The principal's own permissions, before the credential narrows them.
    public let principalPermissions: PermissionSet
    public let credential: Credential

    public init(
        principalID: Int64, principalName: String, principalKind: PrincipalKind, roles: [String],
        permissions: PermissionSet, principalPermissions: PermissionSet, credential: Credential
    ) {
        self.principalID = principalID
        self.principalName = principalName
        self.principalKind = principalKind
        self.roles = roles
        self.permissions = permissions
        self.principalPermissions = principalPermissions
        self.credential = credential
    }

    /// True when this credential may already do everything a key of `owner` scoped to `scopes` can do, so that
    /// acting on that key (revoking, rotating) gives it nothing new: a narrowly scoped key or token cannot reach its
    /// owner's wider keys. Another owner's key (only `*` reaches those) is judged by its scopes alone.
    public func reaches(keyOf owner: Int64, scopes: PermissionSet) -> Bool {
        permissions.covers(owner == principalID ? principalPermissions.intersection(scopes) : scopes)
    }

    /// True when this caller may act on objects of every owner; everyone else sees only their own, and another
    /// owner's object answers 404 (never 403), so ids cannot be probed. Only the `*` grant (admin) covers it.
    public var seesAllOwners: Bool { permissions.allows(Permission(literal: "owner:any")) }

    /// The owner filter for store queries: nil for callers who see all owners, else the caller's own id.
    public var ownerFilter: Int64? { seesAllOwners ? nil : principalID }
}

/// One rate-limit decision, from the database's shared counters.
public struct RateLimitDecision: Sendable, Equatable {
    public let isAllowed: Bool
    /// Requests allowed at once (the bucket's depth).
    public let limit: Int
    /// Requests allowed right now.
    public let remaining: Int
    /// Seconds until the bucket is full again (or the hourly quota renews).
    public let resetSeconds: Int
    /// For a refused request: seconds until it may come back.
    public let retryAfterSeconds: Int

    public init(isAllowed: Bool, limit: Int, remaining: Int, resetSeconds: Int, retryAfterSeconds: Int) {
        self.isAllowed = isAllowed
        self.limit = limit
        self.remaining = remaining
        self.resetSeconds = resetSeconds
        self.retryAfterSeconds = retryAfterSeconds
    }
}

extension PermissionSet {
    /// The permissions both sets allow: what a key with `scopes` may do for an owner holding `self`.
    ///
    /// Grants are prefixes, so when two grants both cover a permission one covers the other; the intersection is
    /// therefore the scopes the owner covers plus the owner's grants the scopes cover.
    public func intersection(_ other: PermissionSet) -> PermissionSet {
        // Most keys are scoped to everything their owner may do; `*` covers every grant and only `*` covers it.
        if other.isEverything { return self }
        if isEverything { return other }
        let fromOther = other.grants.filter { grant in grants.contains { $0.covers(grant) } }
        let fromSelf = grants.filter { grant in other.grants.contains { $0.covers(grant) } }
        return PermissionSet(fromOther + fromSelf)
    }

    private var isEverything: Bool { grants.count == 1 && grants[0].value == "*" }
}

/// A permission string `resource:verb[:sub]`, or a grant ending in `*`.
///
/// A grant covers a required permission when it is equal to it, when it is `*`, or when it ends in `:*` and the
/// required permission starts with the part before the `*` (`storage:*` covers `storage:snapshot:create`).
public struct Permission: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The permission text.
    public let value: String

    /// Validates the text: one to four `:`-separated segments of `a-z 0-9 _ -`, where only the last may be `*`.
    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 100 else { return nil }
        // One pass over the bytes (every authenticated request parses its grants): a segment is `*` only as the
        // last one, and otherwise non-empty segment bytes.
        var segments = 1
        var segmentLength = 0
        var segmentIsStar = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: ":") {
                guard segmentLength > 0, !segmentIsStar else { return nil }
                segments += 1
                segmentLength = 0
                continue
            }
            if byte == UInt8(ascii: "*") {
                guard segmentLength == 0 else { return nil }
                segmentIsStar = true
            } else {
                guard !segmentIsStar, Self.isSegmentByte(byte) else { return nil }
            }
            segmentLength += 1
        }
        guard segmentLength > 0, segments <= 4 else { return nil }
        value = text
    }

    /// A permission spelled in code; traps on a malformed literal, which is a programming error.
    public init(literal: String) {
        guard let permission = Permission(literal) else { preconditionFailure("malformed permission \(literal)") }
        self = permission
    }

    public var description: String { value }

    public static func < (lhs: Permission, rhs: Permission) -> Bool { lhs.value < rhs.value }

    /// True when this grant allows `required`.
    public func covers(_ required: Permission) -> Bool {
        if value == "*" || value == required.value { return true }
        guard value.hasSuffix(":*") else { return false }
        return required.value.hasPrefix(value.dropLast())
    }

    private static func isSegmentByte(_ byte: UInt8) -> Bool {
        (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || byte == 95 || byte == 45
    }
}

/// The permissions a principal holds, after role expansion (or as a token's `permissions` claim lists them).
public struct PermissionSet: Sendable, Equatable {
    public let grants: [Permission]

    public init(_ grants: [Permission]) {
        // A principal's grants come from the database sorted and distinct; only other lists need sorting.
        let isSortedAndDistinct = zip(grants, grants.dropFirst()).allSatisfy { $0 < $1 }
        self.grants = isSortedAndDistinct ? grants : Array(Set(grants)).sorted()
    }

    /// True when some grant covers `required`.
    public func allows(_ required: Permission) -> Bool {
        grants.contains { $0.covers(required) }
    }

    /// True when every grant of `other` is covered by some grant here (a key's scopes must pass this).
    public func covers(_ other: PermissionSet) -> Bool {
        other.grants.allSatisfy { grant in
            grants.contains { mine in mine.covers(grant) }
        }
    }
}

/// What a route requires of the caller; every route declares one.
public enum Access: Sendable, Equatable, CustomStringConvertible {
    /// Liveness and readiness probes: no credentials, no rate limit, no audit row, so a probe never writes.
    case probe
    /// No credentials needed (login); rate-limited per client address and audited.
    case `public`
    /// Any authenticated principal (`/me`, own keys).
    case authenticated
    /// An authenticated principal holding this permission.
    case permission(Permission)

    public var description: String {
        switch self {
        case .probe: "probe"
        case .public: "public"
        case .authenticated: "authenticated"
        case .permission(let permission): permission.value
        }
    }
}

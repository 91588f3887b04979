import Domain
import OpenSSL
import Store
import Web

/// Logging in, tokens, and who am I.
struct AuthRoutes {
    func register(in router: inout Router<RequestContext>) {
        router.add("POST", "/api/v1/auth/login", access: .public, handler: Self.login)
        router.add("POST", "/api/v1/auth/token", access: .authenticated, handler: Self.token)
        router.add("GET", "/api/v1/me", access: .authenticated, handler: Self.me)
    }

    /// Exchanges a username and password for a session key (`ttl_hours`, default `session-ttl-hours`, 1–168).
    ///
    /// Attempts are rate-limited per username and per client address before the password is even looked at; every
    /// failure gets the same answer, and an unknown username costs the same PBKDF2 work as a wrong password.
    @Sendable static func login(_ request: Request, _ context: RequestContext) throws -> Response {
        var fields = FieldReader(try request.jsonObject())
        let username = fields.string("username", required: true) { $0.utf8.count <= 64 ? nil : "is too long" }
        let password = fields.string("password", required: true) { $0.utf8.count <= 1024 ? nil : "is too long" }
        let ttlHours = fields.int("ttl_hours", range: 1...168).map(Int.init) ?? context.config.sessionTTLHours
        try fields.finish()
        guard let username, let password else { throw Problem.internalError }

        context.auditEvent = "auth.login_failure"
        // A name that is no principal's may be a password typed in the wrong field: the audit trail and the rate
        // limit's table keep only a digest of it, enough to tell repeated attempts apart.
        let nameDigest = Hex.encode(SHA256.hash(username.lowercased()).prefix(16))
        let auth = AuthStore(connection: context.connection)
        let config = context.config
        let limits = [
            ("login-user:" + nameDigest, config.loginAttemptsPerMinute, config.loginAttemptsBurst),
            ("login-addr:" + request.clientNetwork, config.loginAddressAttemptsPerMinute, config.loginAddressAttemptsBurst),
        ]
        for (subject, perMinute, burst) in limits {
            let decision = try auth.rateLimitHit(subject: subject, perMinute: perMinute, perHour: perMinute * 60, burst: burst)
            if !decision.isAllowed {
                context.auditDetail = [("reason", .string("rate-limited")), ("username_sha256", .string(nameDigest))]
                throw Problem(
                    .rateLimited, detail: "Too many login attempts; retry in \(decision.retryAfterSeconds) s.",
                    headers: [("Retry-After", String(decision.retryAfterSeconds))])
            }
        }
        let principals = PrincipalStore(connection: context.connection)
        let stored = try principals.credentials(name: username)
        let isMatch = PasswordHash.verify(
            password: password, against: stored?.passwordHash ?? PasswordHash.dummy(iterations: config.passwordIterations))
        guard let stored, stored.passwordHash != nil, isMatch, stored.isActive else {
            let reason = stored == nil ? "unknown-user" : !isMatch || stored?.passwordHash == nil ? "wrong-password" : "inactive"
            context.auditDetail = [("reason", .string(reason))]
            if let stored {
                context.failedPrincipal = (stored.id, username)
            } else {
                context.auditDetail.append(("username_sha256", .string(nameDigest)))
            }
            throw Problem.unauthenticated(.loginFailed, detail: "The username or password is not correct.")
        }
        context.failedPrincipal = (stored.id, username)
        return try context.transaction {
            let (key, prefix, hash) = try ApiKeySecret.generate()
            let expiresAt = context.receivedAt.adding(seconds: Int64(ttlHours) * 3600)
            let record = try ApiKeyStore(connection: context.connection).insert(
                prefix: prefix, hash: hash, principalID: stored.id, isSession: true, scopes: ["*"],
                description: "login session", expiresAt: expiresAt)
            context.auditEvent = "auth.login"
            context.presentedKeyPrefix = prefix
            context.auditDetail = [("session_key", .string(prefix))]
            return .json(
                .object([
                    ("key", .string(key)), ("key_id", .string(record.prefix)), ("token_type", .string("Bearer")),
                    ("expires_at", .string(expiresAt.rfc3339)), ("ttl_hours", .int(Int64(ttlHours))),
                    ("principal", .string(username)),
                ]))
        }
    }

    /// A short-lived signed JWT for the caller, carrying its roles and exactly its current permissions (so a token
    /// made with a scoped key can do no more than that key). It expires with the credential that asked for it when
    /// that is sooner, so tokens cannot renew themselves forever.
    @Sendable static func token(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        let issued = try context.services.tokens.sign(
            subject: identity.principalName, roles: identity.roles, permissions: identity.permissions.grants,
            key: identity.credential.keyPrefix, notAfter: identity.credential.expiresAt, now: context.receivedAt)
        context.auditEvent = "auth.token"
        return .json(
            .object([
                ("token", .string(issued.token)), ("token_type", .string("Bearer")),
                ("expires_at", .string(issued.expiresAt.rfc3339)),
                ("expires_in", .int(issued.expiresAt.seconds - context.receivedAt.seconds)),
            ]))
    }

    /// The caller: principal, roles, effective permissions, and the credential used with its expiry.
    @Sendable static func me(_ request: Request, _ context: RequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        var credential: [(String, JSON)] = [("kind", .string(identity.credential.kind.rawValue))]
        if let prefix = identity.credential.keyPrefix { credential.append(("key_id", .string(prefix))) }
        credential.append(("expires_at", identity.credential.expiresAt.map { .string($0.rfc3339) } ?? .null))
        return .json(
            .object([
                ("principal", .object([
                    ("id", .int(identity.principalID)), ("name", .string(identity.principalName)),
                    ("kind", .string(identity.principalKind.rawValue)),
                ])),
                ("roles", .array(identity.roles.map(JSON.string))),
                ("permissions", .array(identity.permissions.grants.map { .string($0.value) })),
                ("credential", .object(credential)),
            ]))
    }
}

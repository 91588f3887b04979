import Domain
import OpenSSL
import Postgres
import Store
import Web

/// Turns the credentials a request presents into an `Identity`, in the documented order: a TLS client
/// certificate nginx verified, then `Authorization: Bearer <key or token>`, then `X-API-Key`.
///
/// Each path costs one database round trip, which also counts the request against the principal's rate limit (for
/// a busy key, by taking an allowance now and then: `RateAllowances`) and carries the route's read sent ahead.
/// Failures are 401 problems with a type per cause; a wrong secret for a known key gets the same answer as an
/// unknown key, so a key's prefix reveals nothing about it.
struct Authenticator {
    let tokens: TokenService
    let allowances: RateAllowances

    /// The outcome of authentication.
    struct Outcome {
        let identity: Identity
        let rateLimit: RateLimitDecision?
    }

    /// A refused credential: the problem for the client and the reason for the audit trail.
    struct Failure: Error, ProblemConvertible {
        let problem: Problem
        let reason: String
    }

    /// The credential a request presents, found in the documented order.
    enum Presented {
        case certificate(ClientCertificate)
        case key(String)
        case token(String)
        /// An `Authorization` header with another scheme than Bearer.
        case unsupportedScheme
        case nothing
    }

    static func presented(_ request: Request) -> Presented {
        if let certificate = request.clientCertificate, certificate.verification != "NONE" {
            return .certificate(certificate)
        }
        if let authorization = request.headers["authorization"] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return .unsupportedScheme }
            let credential = String(parts[1]).trimmingSpaces()
            return credential.hasPrefix(ApiKeySecret.marker) ? .key(credential) : .token(credential)
        }
        if let key = request.headers["x-api-key"] {
            return .key(key.trimmingSpaces())
        }
        return .nothing
    }

    /// Authenticates the request; nil when it presents no credentials at all.
    func authenticate(_ request: Request, context: RequestContext) throws -> Outcome? {
        switch Self.presented(request) {
        case .certificate(let certificate):
            return try authenticateCertificate(certificate, context: context)
        case .key(let key):
            return try authenticateKey(key, context: context)
        case .token(let token):
            return try authenticateToken(token, context: context)
        case .unsupportedScheme:
            throw Failure(
                problem: .unauthenticated(
                    .invalidCredential, detail: "Only Bearer credentials are accepted.", error: "invalid_request"),
                reason: "unsupported-scheme")
        case .nothing:
            return nil
        }
    }

    /// A key's read prepared ahead of authentication, so that several requests' keys can be read in one statement
    /// (the submit batcher's, `readPreparedKeys`): the allowance is claimed when the read is prepared, and
    /// `authenticate` then uses this claim and what the read found instead of claiming and reading again.
    struct PreparedKeyRead {
        let prefix: String
        let hash: [UInt8]
        let claim: RateAllowances.Claim?
        let wanted: Int
        /// What the read found (nil inside when no key has the prefix); nil while it was not made.
        var found: ApiKeyAuthentication??
    }

    /// Prepares the key read of a request that authenticates with a well-formed API key and notes it in the context
    /// for `readPreparedKeys` and `authenticate`; false for a request with any other credential.
    func prepareKeyRead(_ request: Request, context: RequestContext) -> Bool {
        guard case .key(let text) = Self.presented(request), let (prefix, hash) = ApiKeySecret.parse(text) else {
            return false
        }
        let claim = allowances.claim(keyPrefix: prefix, hash: hash)
        let wanted = if case .take(let wanted)? = claim { wanted } else { 0 }
        context.preparedKeyRead = PreparedKeyRead(prefix: prefix, hash: hash, claim: claim, wanted: wanted)
        return true
    }

    /// Reads the keys prepared in `contexts` in one statement on `connection` and leaves what each read found in its
    /// context. When the statement fails, each request reads its own key during authentication and meets the error
    /// there.
    func readPreparedKeys(of contexts: [RequestContext], connection: Connection) {
        let reading = contexts.compactMap { context in context.preparedKeyRead.map { (context, $0) } }
        guard !reading.isEmpty else { return }
        do {
            let found = try AuthStore(connection: connection).apiKeys(
                reading.map { _, read in (read.prefix, read.hash, read.wanted) })
            for ((context, _), key) in zip(reading, found) { context.preparedKeyRead?.found = .some(key) }
        } catch {
            Log.message(.warn, "keys not read together", [("error", .string(String(reflecting: error)))])
        }
    }

    private func authenticateKey(_ text: String, context: RequestContext) throws -> Outcome {
        guard let (prefix, hash) = ApiKeySecret.parse(text) else {
            throw Failure(
                problem: .unauthenticated(.invalidCredential, detail: "The API key is malformed.", error: "invalid_token"),
                reason: "key-malformed")
        }
        context.presentedKeyPrefix = prefix
        let unknown = Failure(
            problem: .unauthenticated(.invalidCredential, detail: "The API key is not valid.", error: "invalid_token"),
            reason: "key-unknown")
        let prepared = context.preparedKeyRead.flatMap { $0.prefix == prefix && $0.hash == hash ? $0 : nil }
        context.preparedKeyRead = nil
        let claim = if let prepared { prepared.claim } else { allowances.claim(keyPrefix: prefix, hash: hash) }
        let wanted = if case .take(let wanted)? = claim { wanted } else { 0 }
        let read =
            if let found = prepared?.found { found } else {
                try AuthStore(connection: context.connection).apiKey(
                    prefix: prefix, hash: hash, wanted: wanted, readingAhead: context.readAhead)
            }
        guard let found = read else {
            allowances.forget(keyPrefix: prefix)
            throw unknown
        }
        // A wrong secret leaves the allowance alone: anyone may present a key's public prefix.
        guard ConstantTime.equals(found.secretHash, hash) else {
            context.failedPrincipal = (found.principal.id, found.principal.name)
            throw Failure(problem: unknown.problem, reason: "key-wrong-secret")
        }
        var usable = false
        defer { if !usable { allowances.forget(keyPrefix: prefix) } }
        let now = context.receivedAt
        context.failedPrincipal = (found.principal.id, found.principal.name)
        if let revokedAt = found.revokedAt, revokedAt <= now {
            throw Failure(
                problem: .unauthenticated(.revokedCredential, detail: "This API key was revoked.", error: "invalid_token"),
                reason: "key-revoked")
        }
        if let expiresAt = found.expiresAt, expiresAt <= now {
            throw Failure(
                problem: .unauthenticated(.expiredCredential, detail: "This API key has expired.", error: "invalid_token"),
                reason: "key-expired")
        }
        try requireActive(found.principal)
        context.failedPrincipal = nil
        usable = true
        let rateLimit = try rateLimitDecision(
            claim: claim, prefix: prefix, hash: hash, found: found, context: context)
        let owner = PermissionSet(found.principal.permissions.compactMap(Permission.init))
        let scopes = PermissionSet(found.scopes.compactMap(Permission.init))
        // A grace-period expiry of a rotated key is also when it stops working.
        let endsAt = [found.expiresAt, found.revokedAt].compactMap { $0 }.min()
        return Outcome(
            identity: Identity(
                principalID: found.principal.id, principalName: found.principal.name, principalKind: found.principal.kind,
                roles: found.principal.roles, permissions: owner.intersection(scopes), principalPermissions: owner,
                credential: Credential(kind: found.isSession ? .sessionKey : .apiKey, keyPrefix: prefix, expiresAt: endsAt)),
            rateLimit: rateLimit)
    }

    /// The decision for a key's request: from the allowance, from what the key's read took, or (for a key this
    /// process had not seen, or a read that took nothing because the database judged the key unusable a moment
    /// later or earlier than `receivedAt`) from the principal's allowance or a take after the read.
    private func rateLimitDecision(
        claim: RateAllowances.Claim?, prefix: String, hash: [UInt8], found: ApiKeyAuthentication,
        context: RequestContext
    ) throws -> RateLimitDecision {
        let principal = found.principal.id
        switch claim ?? allowances.claim(keyPrefix: prefix, hash: hash, principalID: principal) {
        case .held(let decision):
            return decision
        case .take(let wanted):
            let grant = try found.rateLimit
                ?? AuthStore(connection: context.connection).takeFromRateLimit(
                    principalID: principal, limits: found.limits, wanted: wanted)
            return allowances.record(keyPrefix: prefix, hash: hash, principalID: principal, grant: grant)
        }
    }

    private func authenticateToken(_ token: String, context: RequestContext) throws -> Outcome {
        let claims: TokenClaims
        do {
            claims = try tokens.verify(token, now: context.receivedAt)
        } catch {
            throw Failure(problem: error.problem, reason: error.reason)
        }
        guard let found = try AuthStore(connection: context.connection).tokenSubject(
            claims.subject, roles: claims.roles, fromIdentityProvider: claims.isFromIdentityProvider,
            issuingKey: claims.issuingKey, readingAhead: context.readAhead)
        else { throw Failure(problem: TokenFailure.claimsRejected("unknown subject").problem, reason: "token-subject") }
        guard found.isExternal || !claims.isFromIdentityProvider else {
            // The provider's names are not ours: its `admin` is not the local admin account.
            throw Failure(
                problem: TokenFailure.claimsRejected("the subject is a local account, not one of the identity provider's").problem,
                reason: "token-local-subject")
        }
        guard found.isIssuingKeyUsable else {
            throw Failure(
                problem: .unauthenticated(
                    .revokedCredential, detail: "The API key this token was made with is revoked or has expired.",
                    error: "invalid_token"),
                reason: "token-key-revoked")
        }
        try requireActive(found.principal)
        let principal = PermissionSet(found.principalPermissions.compactMap(Permission.init))
        let granted = PermissionSet(claims.permissions ?? found.principal.permissions.compactMap(Permission.init))
        return Outcome(
            identity: Identity(
                principalID: found.principal.id, principalName: found.principal.name, principalKind: found.principal.kind,
                roles: claims.roles, permissions: principal.intersection(granted), principalPermissions: principal,
                credential: Credential(kind: .token, keyPrefix: claims.issuingKey, expiresAt: claims.expiresAt)),
            rateLimit: found.rateLimit)
    }

    private func authenticateCertificate(_ presented: ClientCertificate, context: RequestContext) throws -> Outcome {
        guard presented.isVerified else {
            throw Failure(
                problem: .unauthenticated(
                    .invalidCredential, detail: "The client certificate was not verified by the server's CA."),
                reason: "certificate-unverified")
        }
        guard let certificate = try? Certificate(urlEncodedPEM: presented.escapedPEM) else {
            throw Failure(
                problem: .unauthenticated(.invalidCredential, detail: "The client certificate could not be read."),
                reason: "certificate-malformed")
        }
        let now = context.receivedAt
        guard let found = try AuthStore(connection: context.connection).certificate(
            fingerprint: certificate.sha256Fingerprint, readingAhead: context.readAhead)
        else {
            throw Failure(
                problem: .unauthenticated(.invalidCredential, detail: "The client certificate is not registered."),
                reason: "certificate-unknown")
        }
        context.failedPrincipal = (found.principal.id, found.principal.name)
        if found.revokedAt != nil {
            throw Failure(
                problem: .unauthenticated(.revokedCredential, detail: "The client certificate was revoked."),
                reason: "certificate-revoked")
        }
        let notAfter = min(found.notAfter, Timestamp(seconds: certificate.notAfter))
        if notAfter <= now || now < Timestamp(seconds: certificate.notBefore) {
            throw Failure(
                problem: .unauthenticated(.expiredCredential, detail: "The client certificate is not valid now."),
                reason: "certificate-expired")
        }
        try requireActive(found.principal)
        context.failedPrincipal = nil
        let permissions = PermissionSet(found.principal.permissions.compactMap(Permission.init))
        return Outcome(
            identity: Identity(
                principalID: found.principal.id, principalName: found.principal.name, principalKind: found.principal.kind,
                roles: found.principal.roles, permissions: permissions, principalPermissions: permissions,
                credential: Credential(kind: .certificate, expiresAt: notAfter)),
            rateLimit: found.rateLimit)
    }

    private func requireActive(_ principal: PrincipalFacts) throws {
        guard principal.isActive else {
            throw Failure(
                problem: .unauthenticated(.inactivePrincipal, detail: "This principal is deactivated.", error: "invalid_token"),
                reason: "principal-inactive")
        }
    }
}

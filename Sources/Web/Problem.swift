import Domain

/// The only error a client ever sees: an RFC 9457 problem document.
///
/// Handlers and middleware throw a `Problem` (or a `ProblemConvertible`); the problem boundary in the API layer
/// is the one place that renders it. `type` is a stable slug under `/problems/`, so clients can branch on it;
/// `detail` is written by us and never copies database or library text.
public struct Problem: Error, Sendable {
    /// The kind of failure: slug, fixed title and status.
    public let kind: Kind
    /// A sentence for people about this occurrence.
    public var detail: String?
    /// Field-level validation failures (400 only).
    public var errors: [FieldError]
    /// Response headers the status needs: `Allow`, `Retry-After`, `WWW-Authenticate`.
    public var headers: [(name: String, value: String)]
    /// Extra members such as `current_state`, rendered after the standard ones.
    public var extensions: [(String, JSON)]

    public init(
        _ kind: Kind, detail: String? = nil, errors: [FieldError] = [],
        headers: [(name: String, value: String)] = [], extensions: [(String, JSON)] = []
    ) {
        self.kind = kind
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extensions = extensions
    }

    public var status: Int { kind.status }

    /// One entry of the registry of problem types; the list of static members below is complete.
    public struct Kind: Sendable, Equatable {
        /// The slug, rendered as `type: "/problems/<slug>"`.
        public let slug: String
        public let title: String
        public let status: Int

        public init(slug: String, title: String, status: Int) {
            self.slug = slug
            self.title = title
            self.status = status
        }

        /// Malformed JSON, query or header.
        public static let badRequest = Kind(slug: "bad-request", title: "Bad request", status: 400)
        /// Well-formed input that breaks a field rule; `errors` names each field.
        public static let validation = Kind(slug: "validation", title: "Invalid request", status: 400)
        /// No credentials were sent.
        public static let unauthenticated = Kind(slug: "unauthenticated", title: "Authentication required", status: 401)
        /// The credential is not one we issued or registered (unknown key, malformed token, unknown certificate).
        public static let invalidCredential = Kind(slug: "invalid-credential", title: "Invalid credential", status: 401)
        /// The credential was valid but its lifetime has ended.
        public static let expiredCredential = Kind(slug: "expired-credential", title: "Credential expired", status: 401)
        /// The credential was revoked.
        public static let revokedCredential = Kind(slug: "revoked-credential", title: "Credential revoked", status: 401)
        /// A token whose signature, algorithm or key id does not verify.
        public static let invalidSignature = Kind(slug: "invalid-signature", title: "Invalid token signature", status: 401)
        /// A token whose claims (nbf, iss, aud) do not fit.
        public static let invalidClaims = Kind(slug: "invalid-claims", title: "Token claims not accepted", status: 401)
        /// The principal behind a valid credential is deactivated.
        public static let inactivePrincipal = Kind(slug: "inactive-principal", title: "Principal inactive", status: 401)
        /// Username and password did not match (deliberately silent on which one).
        public static let loginFailed = Kind(slug: "login-failed", title: "Login failed", status: 401)
        /// Authenticated, but the principal lacks the route's permission.
        public static let forbidden = Kind(slug: "forbidden", title: "Forbidden", status: 403)
        /// No such route or object (also for objects of other owners, so ids cannot be probed).
        public static let notFound = Kind(slug: "not-found", title: "Not found", status: 404)
        /// The route exists for other methods; `Allow` lists them.
        public static let methodNotAllowed = Kind(slug: "method-not-allowed", title: "Method not allowed", status: 405)
        /// The object's state or a uniqueness rule forbids the change.
        public static let conflict = Kind(slug: "conflict", title: "Conflict", status: 409)
        /// The body is larger than the configured limit.
        public static let payloadTooLarge = Kind(slug: "payload-too-large", title: "Payload too large", status: 413)
        /// The body is not JSON.
        public static let unsupportedMediaType = Kind(
            slug: "unsupported-media-type", title: "Unsupported media type", status: 415)
        /// An Idempotency-Key was reused with a different request body.
        public static let idempotencyKeyReused = Kind(
            slug: "idempotency-key-reused", title: "Idempotency key reused", status: 422)
        /// Over the rate limit; `Retry-After` says when to come back.
        public static let rateLimited = Kind(slug: "rate-limited", title: "Too many requests", status: 429)
        /// A bug or an unexpected failure; the log has the reason.
        public static let internalError = Kind(slug: "internal", title: "Internal server error", status: 500)
        /// The database is unreachable or not ready; `Retry-After` says when to try again.
        public static let unavailable = Kind(slug: "unavailable", title: "Service unavailable", status: 503)
        /// A statement ran past the statement timeout.
        public static let timeout = Kind(slug: "timeout", title: "Timed out", status: 504)

        /// Every kind above, in the order declared; each has a page at `www/problems/<slug>.html`, which nginx
        /// serves as `/problems/<slug>`.
        public static let all: [Kind] = [
            badRequest, validation, unauthenticated, invalidCredential, expiredCredential, revokedCredential,
            invalidSignature, invalidClaims, inactivePrincipal, loginFailed, forbidden, notFound, methodNotAllowed,
            conflict, payloadTooLarge, unsupportedMediaType, idempotencyKeyReused, rateLimited, internalError,
            unavailable, timeout,
        ]
    }

    /// The `type` member: a relative URI under `/problems/`.
    public var type: String { "/problems/" + kind.slug }
}

/// One field that failed validation, named as the client sent it.
public struct FieldError: Sendable, Equatable {
    public let field: String
    public let message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// An error that knows which problem document stands for it.
public protocol ProblemConvertible: Error {
    var problem: Problem { get }
}

extension Problem: ProblemConvertible {
    public var problem: Problem { self }
}

// MARK: - Common problems

extension Problem {
    /// 400 with one entry per invalid field.
    public static func validation(_ errors: [FieldError], detail: String = "The request has invalid fields.") -> Problem {
        Problem(.validation, detail: detail, errors: errors)
    }

    /// 400 for one invalid field.
    public static func invalidField(_ field: String, _ message: String) -> Problem {
        validation([FieldError(field: field, message: message)])
    }

    /// 404 for a missing object or route.
    public static func notFound(_ detail: String = "No such resource.") -> Problem {
        Problem(.notFound, detail: detail)
    }

    /// 409 for a state or uniqueness conflict.
    public static func conflict(_ detail: String, extensions: [(String, JSON)] = []) -> Problem {
        Problem(.conflict, detail: detail, extensions: extensions)
    }

    /// 503 with `Retry-After`.
    public static func unavailable(_ detail: String, retryAfterSeconds: Int = 1) -> Problem {
        Problem(.unavailable, detail: detail, headers: [("Retry-After", String(retryAfterSeconds))])
    }

    /// 401 with `WWW-Authenticate` (RFC 6750); `error` is the bearer error code such as `invalid_token`.
    public static func unauthenticated(
        _ kind: Kind = .unauthenticated, detail: String = "This route needs credentials: an API key or a token.",
        error: String? = nil
    ) -> Problem {
        var challenge = "Bearer realm=\"switchyard\""
        if let error { challenge += ", error=\"\(error)\"" }
        return Problem(kind, detail: detail, headers: [("WWW-Authenticate", challenge)])
    }

    /// 403 naming the permission the caller lacks.
    public static func forbidden(_ permission: String) -> Problem {
        Problem(
            .forbidden, detail: "This needs the permission \(permission).",
            extensions: [("required_permission", .string(permission))])
    }

    /// 500; the reason goes to the log, never to the client.
    public static let internalError = Problem(.internalError, detail: "The request could not be completed.")
}

// MARK: - Rendering

extension Problem {
    /// The problem document as JSON, with `instance` and `request_id` both set to the request id.
    public func json(requestID: String) -> JSON {
        var members: [(String, JSON)] = [
            ("type", .string(type)),
            ("title", .string(kind.title)),
            ("status", .int(Int64(kind.status))),
        ]
        if let detail { members.append(("detail", .string(detail))) }
        members.append(("instance", .string(requestID)))
        members.append(("request_id", .string(requestID)))
        if !errors.isEmpty {
            let list = errors.map { JSON.object([("field", .string($0.field)), ("message", .string($0.message))]) }
            members.append(("errors", .array(list)))
        }
        members.append(contentsOf: extensions)
        return .object(members)
    }

    /// The full response: status, `application/problem+json` body and the problem's headers.
    public func response(requestID: String) -> Response {
        var response = Response(status: kind.status, body: json(requestID: requestID).bytes)
        response.headers.append(("Content-Type", "application/problem+json"))
        response.headers.append(contentsOf: headers)
        return response
    }
}

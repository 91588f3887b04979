import Domain

/// A handler: plain synchronous code on the request's thread. Handlers are shared by every worker thread, so they
/// capture only immutable values; per-request state travels in the context.
public typealias Handler<Context> = @Sendable (Request, Context) throws -> Response

/// A route's first read, prepared before the caller is known so that it can travel in authentication's database
/// round trip. It must not depend on the caller: the handler applies the caller's filters to what comes back, and
/// a refused request never sees it.
public typealias Prefetch<Context> = @Sendable (Request, Context) -> Void

/// One entry of the route table: method, path pattern, the access it requires and its handler.
public struct Route<Context>: Sendable {
    public let method: String
    /// The pattern as written, e.g. `/api/v1/jobs/{id}`; logs and audit rows name routes by it.
    public let pattern: String
    public let access: Access
    public let handler: Handler<Context>
    /// The handler's first read, for routes whose every request makes it (nil: none).
    public let prefetch: Prefetch<Context>?
    /// Whether the route's requests are served together in batches, authentication included, rather than each by the
    /// thread that accepted it.
    public let isBatched: Bool
    let path: PathPattern

    init(
        method: String, pattern: String, access: Access, handler: @escaping Handler<Context>,
        prefetch: Prefetch<Context>?, isBatched: Bool
    ) {
        self.method = method
        self.pattern = pattern
        self.access = access
        self.handler = handler
        self.prefetch = prefetch
        self.isBatched = isBatched
        self.path = PathPattern(pattern)
    }
}

/// A route's path split into segments. Deliberately not nested in the generic `Route`: matching runs on every
/// request, and code over a generic type's nested values paid for runtime metadata lookups each time.
struct PathPattern: Sendable {
    enum Segment: Equatable, Sendable {
        case literal(String)
        case parameter(String)
    }

    let segments: [Segment]

    init(_ pattern: String) {
        segments = pattern.split(separator: "/").map { part in
            if part.hasPrefix("{") && part.hasSuffix("}") {
                return .parameter(String(part.dropFirst().dropLast()))
            }
            return .literal(String(part))
        }
    }

    /// How many literal segments match `parts`, or nil when the path does not fit the pattern.
    func literalMatches(_ parts: [Substring]) -> Int? {
        guard parts.count == segments.count else { return nil }
        var literals = 0
        for index in segments.indices {
            if case .literal(let text) = segments[index] {
                guard text == parts[index] else { return nil }
                literals += 1
            }
        }
        return literals
    }

    /// The `{name}` values of a path that fits.
    func parameters(of parts: [Substring]) -> [String: String] {
        var parameters: [String: String] = [:]
        for index in segments.indices {
            if case .parameter(let name) = segments[index] { parameters[name] = String(parts[index]) }
        }
        return parameters
    }
}

/// The outcome of looking a request up in the route table.
public enum RouteMatch<Context> {
    case found(Route<Context>, parameters: [String: String])
    /// The path exists for other methods: 405 with `Allow`.
    case methodNotAllowed(allowed: [String])
    case notFound
}

/// Maps method + path to a route, after Hummingbird's router: patterns with `{name}` segments, literal segments
/// winning over parameters, 404 for unknown paths and 405 with `Allow` for known paths with another method.
public struct Router<Context>: Sendable {
    /// Every route, in registration order; tests enumerate it to check that each declares its access.
    public private(set) var routes: [Route<Context>] = []
    /// Each route's method and path, index for index: matching reads only these non-generic arrays.
    private var methods: [String] = []
    private var paths: [PathPattern] = []

    /// The methods of batched routes: a request with another method is known not to be one without a match.
    public private(set) var batchedMethods: Set<String> = []

    public init() {}

    /// Adds a route. Registering the same method and pattern twice is a programming error.
    public mutating func add(
        _ method: String, _ pattern: String, access: Access, prefetch: Prefetch<Context>? = nil, batched: Bool = false,
        handler: @escaping Handler<Context>
    ) {
        precondition(
            !routes.contains { $0.method == method && $0.pattern == pattern }, "duplicate route \(method) \(pattern)")
        let route = Route(
            method: method, pattern: pattern, access: access, handler: handler, prefetch: prefetch, isBatched: batched)
        routes.append(route)
        if batched { batchedMethods.insert(method) }
        methods.append(method)
        paths.append(route.path)
    }

    /// Finds the route for a request. A `HEAD` request matches `GET` routes.
    public func match(method: String, path: String) -> RouteMatch<Context> {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        var best: (index: Int, literals: Int)?
        var allowed: [String] = []
        for index in paths.indices {
            guard let literals = paths[index].literalMatches(parts) else { continue }
            let routeMethod = methods[index]
            guard routeMethod == method || (method == "HEAD" && routeMethod == "GET") else {
                if !allowed.contains(routeMethod) { allowed.append(routeMethod) }
                continue
            }
            if best == nil || literals > best!.literals {
                best = (index, literals)
            }
        }
        if let best {
            let route = routes[best.index]
            return .found(route, parameters: route.path.parameters(of: parts))
        }
        // HEAD is answered wherever GET is, so `Allow` names it too (RFC 9110 §9.3.2).
        if allowed.contains("GET") { allowed.append("HEAD") }
        if !allowed.isEmpty { return .methodNotAllowed(allowed: allowed.sorted()) }
        return .notFound
    }
}

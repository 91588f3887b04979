import Domain

/// A handler: plain synchronous code on the request's thread. Handlers are shared by every worker thread, so they
/// capture only immutable values; per-request state travels in the context.
public typealias Handler<Context> = @Sendable (Request, Context) throws -> Response

/// One entry of the route table: method, path pattern, the access it requires and its handler.
public struct Route<Context>: Sendable {
    public let method: String
    /// The pattern as written, e.g. `/api/v1/jobs/{id}`; logs and audit rows name routes by it.
    public let pattern: String
    public let access: Access
    public let handler: Handler<Context>
    let segments: [Segment]

    enum Segment: Equatable, Sendable {
        case literal(String)
        case parameter(String)
    }

    init(method: String, pattern: String, access: Access, handler: @escaping Handler<Context>) {
        self.method = method
        self.pattern = pattern
        self.access = access
        self.handler = handler
        self.segments = pattern.split(separator: "/").map { part in
            if part.hasPrefix("{") && part.hasSuffix("}") {
                return .parameter(String(part.dropFirst().dropLast()))
            }
            return .literal(String(part))
        }
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

    public init() {}

    /// Adds a route. Registering the same method and pattern twice is a programming error.
    public mutating func add(
        _ method: String, _ pattern: String, access: Access, handler: @escaping Handler<Context>
    ) {
        precondition(
            !routes.contains { $0.method == method && $0.pattern == pattern }, "duplicate route \(method) \(pattern)")
        routes.append(Route(method: method, pattern: pattern, access: access, handler: handler))
    }

    /// Finds the route for a request. A `HEAD` request matches `GET` routes.
    public func match(method: String, path: String) -> RouteMatch<Context> {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        var best: (route: Route<Context>, parameters: [String: String], literals: Int)?
        var allowed: [String] = []
        for route in routes where route.segments.count == parts.count {
            guard let (parameters, literals) = Self.bind(route.segments, to: parts) else { continue }
            let methodMatches = route.method == method || (method == "HEAD" && route.method == "GET")
            if !methodMatches {
                if !allowed.contains(route.method) { allowed.append(route.method) }
                continue
            }
            if best == nil || literals > best!.literals {
                best = (route, parameters, literals)
            }
        }
        if let best { return .found(best.route, parameters: best.parameters) }
        if !allowed.isEmpty { return .methodNotAllowed(allowed: allowed.sorted()) }
        return .notFound
    }

    private static func bind(_ segments: [Route<Context>.Segment], to parts: [Substring]) -> ([String: String], Int)? {
        var parameters: [String: String] = [:]
        var literals = 0
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let text):
                guard text == part else { return nil }
                literals += 1
            case .parameter(let name):
                parameters[name] = String(part)
            }
        }
        return (parameters, literals)
    }
}

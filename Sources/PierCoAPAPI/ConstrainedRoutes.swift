import PierCoAP

/// Who may call what on the constrained interface: one row per method and path shape, naming the
/// verb a client's scope must hold. A request that matches no row is refused (4.05 when its
/// path has rows for other methods, else 4.04) and nothing is served outside this table.
public struct ConstrainedRoute: Sendable, Hashable, CustomStringConvertible {
    /// A path segment: fixed text, or the service name.
    public enum Segment: Sendable, Hashable {
        case literal(String)
        case service
    }

    public var method: CoAPCode
    public var path: [Segment]
    public var verb: CoAPVerb

    public init(_ method: CoAPCode, _ path: [Segment], _ verb: CoAPVerb) {
        self.method = method
        self.path = path
        self.verb = verb
    }

    /// The table.
    public static let table: [ConstrainedRoute] = [
        ConstrainedRoute(.get, [.literal("services")], .list),
        ConstrainedRoute(.get, [.literal("services"), .service], .status),
        ConstrainedRoute(.put, [.literal("services"), .service], .activate),
        ConstrainedRoute(.delete, [.literal("services"), .service], .remove),
        ConstrainedRoute(.post, [.literal("services"), .service, .literal("stop")], .stop),
        ConstrainedRoute(.post, [.literal("services"), .service, .literal("start")], .start),
    ]

    /// The row for `method` on `segments`, with the service name when the path has one.
    public static func match(_ method: CoAPCode, _ segments: [String]) -> (route: ConstrainedRoute, service: String?)? {
        for route in table where route.method == method {
            if let service = route.matches(segments) { return (route, service) }
        }
        return nil
    }

    /// Whether any row's path fits `segments` (to tell 4.05 from 4.04).
    public static func hasPath(_ segments: [String]) -> Bool { table.contains { $0.matches(segments) != nil } }

    /// Nil if the path does not fit; else the service segment ("" when the shape has none).
    func matches(_ segments: [String]) -> String?? {
        guard segments.count == path.count else { return nil }
        var service: String?
        for (segment, shape) in zip(segments, path) {
            switch shape {
            case .literal(let text): guard segment == text else { return nil }
            case .service: service = segment
            }
        }
        return .some(service)
    }

    public var description: String {
        let p = path.map { s -> String in if case .literal(let t) = s { t } else { "NAME" } }.joined(separator: "/")
        let name = [CoAPCode.get: "GET", .post: "POST", .put: "PUT", .delete: "DELETE"][method] ?? "\(method)"
        return "\(name) /\(p) → \(verb.rawValue)"
    }
}

import PierAccess
import PierCoAP

/// Who may call what on the constrained interface: one row per method and path shape, naming the
/// verb a client's scope must hold, read from `AccessPolicy.coapInterface` (the table of every
/// server's routes). A request that matches no row is refused (4.05 when its path has rows for
/// other methods, else 4.04) and nothing is served outside this table.
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

    /// The table: `AccessPolicy.coapInterface` in CoAP's terms. A rule naming an unknown method
    /// or verb stops the process at start (a test checks every rule converts).
    public static let table: [ConstrainedRoute] = AccessPolicy.coapInterface
        .sorted { $0.key.description < $1.key.description }
        .map { route, verb in
            guard let row = ConstrainedRoute(route, verb: verb) else { preconditionFailure("AccessPolicy.coapInterface: \(route) → \(verb) is not a CoAP route") }
            return row
        }

    /// A rule of the access table as a row, or nil if its method or verb is not CoAP's.
    init?(_ route: AccessPolicy.Route, verb: String) {
        let methods: [String: CoAPCode] = ["GET": .get, "POST": .post, "PUT": .put, "DELETE": .delete]
        guard let method = methods[route.method], let verb = CoAPVerb(rawValue: verb) else { return nil }
        let segments = route.path.split(separator: "/").map { $0 == "{name}" ? Segment.service : .literal(String($0)) }
        self.init(method, segments, verb)
    }

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

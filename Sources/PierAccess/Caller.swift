/// Who sent a request, as the server established it: a verified certificate's role and name, the
/// local unix socket (an admin: the socket is root's), or nobody (TLS without a certificate).
public struct Caller: Sendable, Hashable, CustomStringConvertible {
    /// The caller's role; nil for an anonymous caller.
    public var role: Role?
    /// The certificate's subject CN (a node id or `client-NAME`), `local` or `anonymous`.
    public var name: String

    public init(role: Role?, name: String) {
        self.role = role
        self.name = name
    }

    /// A client of the local unix socket, which only root (and the socket's group) can open.
    public static let local = Caller(role: .admin, name: "local")
    /// A TLS client that presented no certificate.
    public static let anonymous = Caller(role: nil, name: "anonymous")

    public var description: String {
        guard let role else { return "a client without a certificate" }
        return name == "local" ? "the local socket" : "\(name) (\(role))"
    }
}

/// A request context that carries the caller its server's authorization middleware established,
/// so handlers can review what the caller asks for (``PrivilegeReview``).
public protocol CallerCarrying {
    var caller: Caller { get set }
}

/// What a container may ask for that reaches past its own sandbox, into the host: the things an
/// `operator` certificate (or a CoAP client without the scope for it) may not ask for. Every entry
/// point's container spec lists what it asks for (`ContainerSpec.requestedPrivileges`)
/// and ``PrivilegeReview`` decides, here and nowhere else.
public enum Privilege: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// `--privileged`: every capability and device, no confinement.
    case privileged
    /// `--network host`: the host's interfaces and ports.
    case hostNetwork = "host-network"
    /// `--pid host`: the host's processes.
    case hostPID = "host-pid"
    /// `-v /host/path:/in/container`, `--mount type=bind`: host files.
    case bindMount = "bind-mounts"
    /// `--device`: host devices.
    case device = "devices"
    /// `--cap-add`: capabilities beyond the default set.
    case capability = "capabilities"
    /// `--security-opt seccomp=unconfined|PROFILE`, `apparmor=unconfined`: the confinement loosened.
    case unconfined
    /// `--userns host` where the node maps containers' root to an unprivileged range.
    case hostUserNamespace = "host-userns"

    public var description: String { rawValue }
}

/// One thing a spec asks for, with the words of the request that ask for it
/// (`volume /:/host`), so a refusal can name them.
public struct PrivilegeRequest: Sendable, Hashable, CustomStringConvertible {
    public var privilege: Privilege
    public var detail: String
    public init(_ privilege: Privilege, _ detail: String) {
        self.privilege = privilege
        self.detail = detail
    }
    public var description: String { detail }
}

/// Decides whether a caller may have a container with the privileges its spec asks for.
public enum PrivilegeReview {
    /// What each role may ask for: admins (and the local socket) anything, everyone else nothing.
    public static func granted(to role: Role?) -> Set<Privilege> {
        role == .admin ? Set(Privilege.allCases) : []
    }

    /// Nil if `caller` may have everything `requests` ask for; otherwise the refusal naming the
    /// first request it may not make. What `kept` already has (the spec being replaced, which an
    /// admin approved) is not asked again: an operator may roll a privileged service to a new
    /// image, but not add a privilege to it.
    public static func review(_ requests: [PrivilegeRequest], caller: Caller, kept: [PrivilegeRequest] = []) -> AccessDenied? {
        let new = requests.filter { !kept.contains($0) }
        return review(new, granted: granted(to: caller.role), who: "\(caller)") { _ in "that needs an admin certificate" }
    }

    /// The same against an explicit grant (a CoAP client's scope); `remedy` says how to get the
    /// privilege refused.
    public static func review(
        _ requests: [PrivilegeRequest], granted: Set<Privilege>, who: String, remedy: (Privilege) -> String
    ) -> AccessDenied? {
        guard let refused = requests.first(where: { !granted.contains($0.privilege) }) else { return nil }
        return AccessDenied("\(who) may not ask for \(refused.privilege) (\(refused.detail)); \(remedy(refused.privilege))")
    }
}

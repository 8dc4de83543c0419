import PierAPI

/// A host port claimed by a published port; two tasks on one node may not share one.
public struct PortClaim: Sendable, Hashable, CustomStringConvertible {
    public var port: Int
    /// `tcp`, `udp` or `sctp`.
    public var proto: String

    public init(port: Int, proto: String = "tcp") { self.port = port; self.proto = proto }

    public var description: String { "\(port)/\(proto)" }

    /// The host ports of one `publish` entry: `HOST:CTR[/proto]`, `IP:HOST:CTR[/proto]` or
    /// ranges `8000-8002:80-82`. A bare `CTR` claims nothing (the host port is chosen at start).
    /// Throws a description of what is wrong.
    public static func parse(_ publish: String) throws(ClusterSpecError) -> [PortClaim] {
        var spec = Substring(publish)
        var proto = "tcp"
        if let slash = spec.lastIndex(of: "/") {
            proto = spec[spec.index(after: slash)...].lowercased()
            spec = spec[..<slash]
            guard ["tcp", "udp", "sctp"].contains(proto) else {
                throw .invalidField("publish \"\(publish)\"", reason: "protocol \"\(proto)\" is not tcp, udp or sctp")
            }
        }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard let container = parts.last, Self.range(container) != nil else {
            throw .invalidField("publish \"\(publish)\"", reason: "container port is not a port number or range")
        }
        guard parts.count >= 2, !parts[parts.count - 2].isEmpty else { return [] }
        guard let host = Self.range(parts[parts.count - 2]) else {
            throw .invalidField("publish \"\(publish)\"", reason: "host port is not a port number or range (1-65535)")
        }
        return host.map { PortClaim(port: $0, proto: proto) }
    }

    private static func range(_ text: Substring) -> ClosedRange<Int>? {
        let bounds = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let low = Int(bounds[0]), (1...65535).contains(low) else { return nil }
        guard bounds.count == 2 else { return low...low }
        guard let high = Int(bounds[1]), (low...65535).contains(high) else { return nil }
        return low...high
    }
}

extension TaskTemplate {
    /// Host device paths the task needs (`/dev/gpiochip0` of `/dev/gpiochip0:/dev/gpiochip0:rw`).
    public var hostDevices: [String] {
        container.devices.compactMap { entry in
            entry.split(separator: ":", maxSplits: 1).first.map(String.init)
        }
    }

    /// Host ports the task claims on its node, whatever its network mode (host-network tasks
    /// bind the same ports). Entries that do not parse claim nothing; `ServiceSpec.validate()` refuses them.
    public var portClaims: [PortClaim] {
        var claims: [PortClaim] = []
        for entry in container.publish {
            if let parsed = try? PortClaim.parse(entry) { claims.append(contentsOf: parsed) }
        }
        return claims
    }
}

/// Something a task's isolation settings need from its node's kernel or runtime.
public enum IsolationNeed: String, Sendable, Hashable, CaseIterable {
    /// A seccomp profile of the user's (runc built with libseccomp).
    case seccomp
    /// An AppArmor profile (`apparmor=NAME`).
    case appArmor = "AppArmor"
    /// `--init` (tini on the node).
    case initBinary = "an init binary (tini) for --init"
    /// `--userns remap`: a usable `pier` subordinate range.
    case userNamespace = "a usable pier subuid/subgid range for --userns remap"
    /// Volumes of a remapped container: idmapped mounts (Linux 5.19 or later).
    case idmappedVolumes = "idmapped mounts for volumes under --userns remap"
    /// Volumes of a container that does not choose, on a node that remaps by default.
    case volumesOnRemappingNode = "idmapped mounts for volumes (it remaps containers by default)"
    /// `--privileged` or `--network host` without `--userns`: a node that does not remap by default.
    case hostUserNamespace = "the host's user namespace by default (give the service --userns host)"

    /// Whether `isolation` (nil: an agent that does not report it) provides this.
    public func isMet(by isolation: NodeIsolation?) -> Bool {
        switch self {
        case .seccomp: return isolation?.seccomp ?? true
        case .appArmor: return isolation?.appArmor ?? false
        case .initBinary: return isolation?.initBinary != nil
        case .userNamespace: return isolation?.userns.map { $0.problem == nil } ?? false
        case .idmappedVolumes: return isolation?.userns?.layers == "idmapped"
        case .volumesOnRemappingNode: return isolation?.userns.map { $0.defaultMode != "remap" || $0.layers == "idmapped" } ?? true
        case .hostUserNamespace: return isolation?.userns?.defaultMode != "remap"
        }
    }
}

extension TaskTemplate {
    /// What the task's security options need from a node.
    public var isolationNeeds: [IsolationNeed] {
        var needs: [IsolationNeed] = []
        for entry in container.securityOpt {
            if entry.hasPrefix("seccomp=") || entry.hasPrefix("seccomp:"), !entry.hasSuffix("=unconfined"), !entry.hasSuffix(":unconfined") {
                needs.append(.seccomp)
            }
            if entry.hasPrefix("apparmor=") || entry.hasPrefix("apparmor:"), !entry.hasSuffix("=unconfined"), !entry.hasSuffix(":unconfined") {
                needs.append(.appArmor)
            }
        }
        if container.initProcess { needs.append(.initBinary) }
        let volumes = !container.volumes.isEmpty || container.mounts.contains { $0.contains("type=bind") }
        switch container.userns {
        case "remap":
            needs.append(.userNamespace)
            if volumes { needs.append(.idmappedVolumes) }
        case nil:
            if volumes { needs.append(.volumesOnRemappingNode) }
            if container.privileged || container.network == "host" { needs.append(.hostUserNamespace) }
        default:
            break
        }
        return needs
    }
}

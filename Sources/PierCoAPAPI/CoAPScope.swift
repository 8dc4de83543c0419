import PierSpec
import PierAccess
import PierAPI

/// What a CoAP client may do with the interface's routes (see `ConstrainedRoutes.table`).
public enum CoAPVerb: String, Sendable, Hashable, CaseIterable, Codable {
    /// `GET /services` (and observing it): the services in the client's scope.
    case list
    /// `GET /services/NAME`, with or without Observe.
    case status
    /// `PUT /services/NAME`: create and start, or replace.
    case activate
    /// `POST /services/NAME/stop`.
    case stop
    /// `POST /services/NAME/start`.
    case start
    /// `DELETE /services/NAME`.
    case remove
}

/// What an activation may ask for beyond an isolated container (host network, bind mounts,
/// devices, capabilities, …): Pier's `Privilege`, named in a scope's `allow` list; none unless
/// the scope allows it. `PrivilegeReview` decides, as for operators' certificates.
public typealias CoAPPermission = Privilege

/// One client's scope: the services it may touch, the verbs it may use, and what its activations
/// may ask for (`CoAPPermission`). Everything not listed is refused with 4.03.
public struct CoAPScope: Sendable, Equatable {
    /// Service names or patterns with one `*` (`sensor-*`, `*`).
    public var services: [String]
    public var verbs: Set<CoAPVerb>
    public var allow: Set<CoAPPermission>

    public init(services: [String], verbs: Set<CoAPVerb>, allow: Set<CoAPPermission> = []) {
        self.services = services
        self.verbs = verbs
        self.allow = allow
    }

    /// Every verb on every service, with every permission.
    public static let all = CoAPScope(services: ["*"], verbs: Set(CoAPVerb.allCases), allow: Set(CoAPPermission.allCases))

    /// Whether `service` matches one of the patterns.
    public func covers(_ service: String) -> Bool { services.contains { Self.matches(service, $0) } }

    static func matches(_ name: String, _ pattern: String) -> Bool {
        guard let star = pattern.firstIndex(of: "*") else { return name == pattern }
        let prefix = pattern[..<star], suffix = pattern[pattern.index(after: star)...]
        return name.count >= prefix.count + suffix.count && name.hasPrefix(prefix) && name.hasSuffix(suffix)
    }

    /// The permission each activation field needs when it asks for more than an isolated
    /// container, or nil if it never does. A field missing here is refused: a new field of
    /// `ContainerSpec` stays closed to CoAP clients until it is classified (a test
    /// enumerates them).
    public static let activationFields: [String: CoAPPermission?] = [
        "image": nil, "name": nil, "entrypoint": nil, "command": nil, "env": nil, "workdir": nil, "user": nil,
        "hostname": nil, "readOnly": nil, "memory": nil, "cpus": nil, "pidsLimit": nil, "publish": nil, "restart": nil,
        "health": nil, "labels": nil, "capDrop": nil, "autoRemove": nil, "logMaxSize": nil, "logMaxFiles": nil, "stopSignal": nil,
        "network": .hostNetwork, "volumes": .bindMount, "devices": .device, "capAdd": .capability,
        // The isolation options: what loosens it needs its privilege, limits do not.
        "privileged": .privileged, "securityOpt": .unconfined, "mounts": .bindMount, "userns": .hostUserNamespace,
        "tmpfs": nil, "ulimits": nil, "shmSize": nil, "sysctls": nil, "init": nil,
        // The manager's fields.
        "replicas": nil, "mode": nil, "constraints": nil,
    ]

    /// Refuses an activation that sets a field no rule covers, or that asks for a privilege
    /// (`ContainerSpec.requestedPrivileges`) this scope does not allow, naming the
    /// request and the missing permission.
    public func permit(_ activation: ActivationRequest, client: String) throws(ConstrainedAPIError) {
        for field in activation.fields.sorted() where Self.activationFields[field] == nil {
            throw .forbidden("field \(field) is not open to CoAP clients")
        }
        if let denied = PrivilegeReview.review(
            activation.container.requestedPrivileges, granted: allow, who: "CoAP client \(client)",
            remedy: { "that needs \"\($0.rawValue)\" in the allow list of client \(client)'s scope" })
        {
            throw .forbidden(denied.reason)
        }
    }
}

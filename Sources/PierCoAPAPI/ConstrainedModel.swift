import PierSpec
import Foundation
import PierAPI

/// One service as a constrained client sees it (`GET /services/NAME`): small enough for one
/// datagram, the same shape on an agent (a container) and on a manager (a cluster service).
public struct ConstrainedServiceStatus: Codable, Sendable, Equatable {
    public var name: String
    public var image: String
    /// Agent: the container's state (`created`, `running`, `restarting`, `exited`, `dead`).
    /// Manager: `running` (all desired tasks run), `pending` (fewer do), `stopping` or `stopped` (scaled to 0).
    public var state: String
    /// `starting`, `healthy` or `unhealthy` when the service has a health check.
    public var health: String?
    /// The last exit code of a container that ended (agent).
    public var exitCode: Int32?
    /// Tasks running and desired (manager).
    public var running: Int?
    public var desired: Int?
    /// Published ports, `HOST:CONTAINER/PROTO` (agent).
    public var ports: [String]?

    public init(name: String, image: String, state: String, health: String? = nil, exitCode: Int32? = nil,
                running: Int? = nil, desired: Int? = nil, ports: [String]? = nil) {
        self.name = name; self.image = image; self.state = state; self.health = health; self.exitCode = exitCode
        self.running = running; self.desired = desired; self.ports = ports
    }
}

/// The body of `PUT /services/NAME` (JSON, or CBOR with Content-Format 60): the container fields of `pier run` (`image`, `command`, `env`,
/// `network`, `publish`, `devices`, `memory`, …, as in `POST /v1/containers`) and, on a manager,
/// `replicas`, `mode` and `constraints`. The name comes from the path. An unknown key is an error
/// naming it, never silently dropped.
public struct ActivationRequest: Sendable, Equatable {
    public var container: ContainerSpec
    /// Replicas of a replicated service (manager); nil: 1.
    public var replicas: Int?
    /// `replicated` (default) or `global` (manager).
    public var global: Bool
    /// `node.labels.K==V` and the other placement constraints of `pier service create` (manager).
    public var constraints: [String]
    /// The fields the body set, which a client's scope is checked against (`CoAPScope.permit`).
    public var fields: Set<String>

    public init(container: ContainerSpec, replicas: Int? = nil, global: Bool = false, constraints: [String] = [], fields: Set<String> = []) {
        self.container = container; self.replicas = replicas; self.global = global; self.constraints = constraints
        self.fields = fields
    }

    static let clusterFieldNames: Set<String> = ["replicas", "mode", "constraints"]

    private struct ClusterFields: Decodable {
        var replicas: Int?
        var mode: String?
        var constraints: [String]?
    }

    /// Parses an activation body for the service `name`, JSON or (with `cbor`) CBOR; `cluster`
    /// allows the manager's fields.
    public static func parse(_ body: [UInt8], name: String, cluster: Bool, cbor: Bool = false) throws(ConstrainedAPIError)
        -> ActivationRequest
    {
        let parsed: Any?
        if cbor {
            do { parsed = try CBORBody.object(body) } catch { throw .invalid("the CBOR body: \(error)") }
        } else {
            parsed = try? JSONSerialization.jsonObject(with: Data(body))
        }
        guard let object = parsed as? [String: Any], JSONSerialization.isValidJSONObject(object),
            let data = try? JSONSerialization.data(withJSONObject: object)
        else {
            throw .invalid("the body must be a \(cbor ? "CBOR map" : "JSON object") such as {\"image\":\"pier-compute\",\"network\":\"host\"}")
        }
        let allowed = ContainerSpec.fieldNames.union(cluster ? clusterFieldNames : [])
        let unknown = object.keys.filter { !allowed.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw .invalid("unsupported field\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", "))"
                + (cluster ? "" : "; replicas, mode and constraints are for a manager"))
        }
        if let given = object["name"] as? String, given != name {
            throw .invalid("name: the body says \"\(given)\" but the path names \"\(name)\"")
        }
        var container: ContainerSpec
        let extra: ClusterFields
        do {
            container = try JSONDecoder().decode(ContainerSpec.self, from: data)
            extra = try JSONDecoder().decode(ClusterFields.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw .invalid("missing field \(key.stringValue)")
        } catch let DecodingError.typeMismatch(_, context) {
            throw .invalid("field \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        } catch {
            throw .invalid("the body is not a valid activation request: \(error)")
        }
        container.name = name
        var global = false
        switch extra.mode {
        case nil, "replicated": break
        case "global": global = true
        case let other?: throw .invalid("mode: \"\(other)\" is not replicated or global")
        }
        do { try container.validate() } catch { throw .invalid("\(error)") }
        if let replicas = extra.replicas {
            guard (0...ContainerSpec.maxReplicas).contains(replicas) else {
                throw .invalid("replicas: \(replicas) is outside 0…\(ContainerSpec.maxReplicas)")
            }
            guard !global else { throw .invalid("replicas: a global service runs one task per node; leave replicas out") }
        }
        return ActivationRequest(
            container: container, replicas: extra.replicas, global: global, constraints: extra.constraints ?? [], fields: Set(object.keys))
    }
}

/// What the constrained interface answers when a request cannot be served; each maps to a CoAP code.
public enum ConstrainedAPIError: Error, Sendable, CustomStringConvertible {
    case invalid(String)
    /// Outside the client's scope: 4.03.
    case forbidden(String)
    case notFound(String)
    case conflict(String)
    case failed(String)

    public var description: String {
        switch self {
        case .invalid(let m), .forbidden(let m), .notFound(let m), .conflict(let m), .failed(let m): m
        }
    }
}

/// What an agent or a manager offers the constrained interface. The agent's services are its
/// containers; the manager's are the cluster's services.
public protocol ConstrainedBackend: Sendable {
    /// `agent` or `manager`, shown in `/.well-known/core` and errors.
    var role: String { get }
    func list() async throws -> [ConstrainedServiceStatus]
    func status(_ name: String) async throws -> ConstrainedServiceStatus
    /// Creates and starts the service, or, when one of that name exists, makes it match the request.
    /// Returns whether it was created.
    func activate(_ name: String, _ request: ActivationRequest, client: String) async throws -> Bool
    /// Stops the service and keeps it (a manager scales it to 0).
    func stop(_ name: String) async throws
    /// Starts a stopped service again.
    func start(_ name: String) async throws
    /// Stops and removes the service.
    func remove(_ name: String) async throws
    /// Calls `changed` after anything that may have changed a service's status.
    func onChange(_ changed: @escaping @Sendable () -> Void) async
    /// Maps the backend's own errors (agent or manager) to the interface's.
    func translate(_ error: any Error) -> ConstrainedAPIError
}

import Foundation
import PierAPI

/// What an agent reports about its device when it joins and on every heartbeat.
public struct NodeDescription: Codable, Sendable, Equatable {
    public var hostname: String
    public var platform: Platform
    public var resources: Resources
    /// Device nodes present on the host that services may ask for (`/dev/gpiochip0`, `/dev/ttyUSB0`, …).
    public var devices: [String]
    public var agentVersion: String
    /// Seccomp, AppArmor, `--init` on the node; nil from agents that do not report it (the
    /// scheduler then assumes seccomp and nothing optional).
    public var isolation: NodeIsolation?
    /// Mesh key, ports, underlay addresses and what the node can run; nil from agents that do not report it.
    public var network: NodeNetworkReport?

    public init(
        hostname: String, platform: Platform, resources: Resources, devices: [String] = [], agentVersion: String = "",
        isolation: NodeIsolation? = nil, network: NodeNetworkReport? = nil
    ) {
        self.hostname = hostname; self.platform = platform; self.resources = resources
        self.devices = devices; self.agentVersion = agentVersion; self.isolation = isolation; self.network = network
    }
}

/// OS and architecture in OCI's vocabulary (`linux`, `amd64`/`arm64`/`arm`).
public struct Platform: Codable, Sendable, Equatable, Hashable {
    public var os: String
    public var architecture: String
    public var variant: String?
    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os; self.architecture = architecture; self.variant = variant
    }
}

/// CPUs (fractional) and memory in bytes: a node's capacity, or a task's reservation or limit.
public struct Resources: Codable, Sendable, Equatable {
    public var cpus: Double
    public var memoryBytes: Int64
    public init(cpus: Double = 0, memoryBytes: Int64 = 0) { self.cpus = cpus; self.memoryBytes = memoryBytes }
    public static let zero = Resources()
}

/// Whether the scheduler may place tasks on a node (Swarm's availability).
public enum NodeAvailability: String, Codable, Sendable, CaseIterable {
    /// New tasks may be placed here.
    case active
    /// Running tasks stay; no new ones are placed.
    case pause
    /// Tasks are moved elsewhere and none are placed.
    case drain
}

public enum NodeRole: String, Codable, Sendable, CaseIterable {
    case worker, manager
}

/// Liveness as the manager sees it from heartbeats.
public enum NodeState: String, Codable, Sendable {
    case unknown, ready, down
}

/// A node of the cluster as the manager stores it.
public struct Node: Codable, Sendable, Equatable, Identifiable {
    /// Random id, 25 lowercase alphanumerics like Swarm's.
    public var id: String
    public var role: NodeRole
    public var availability: NodeAvailability
    /// Operator-set labels (`pier node update --label-add zone=a`), used by constraints and spread.
    public var labels: [String: String]
    public var description: NodeDescription
    public var state: NodeState
    /// Why the node is in its state (`heartbeat missed for 2.1s`).
    public var message: String?
    /// Address the agent's session came from (informational).
    public var address: String?
    public var lastHeartbeat: Date?
    public var createdAt: Date
    public var updatedAt: Date
    /// Images the agent holds of those it was asked to stage ahead of an update (pinned
    /// `name@sha256:…`); nil when it was asked for none.
    public var stagedImages: [String]?
    /// The node's subnet and place in the mesh, once leased.
    public var network: NodeNetwork?

    public init(
        id: String, role: NodeRole = .worker, availability: NodeAvailability = .active, labels: [String: String] = [:],
        description: NodeDescription, state: NodeState = .unknown, message: String? = nil, address: String? = nil,
        lastHeartbeat: Date? = nil, createdAt: Date = Date(), updatedAt: Date = Date()
    ) {
        self.id = id; self.role = role; self.availability = availability; self.labels = labels
        self.description = description; self.state = state; self.message = message; self.address = address
        self.lastHeartbeat = lastHeartbeat; self.createdAt = createdAt; self.updatedAt = updatedAt
    }
}

extension Resources {
    private enum CodingKeys: String, CodingKey { case cpus, memoryBytes }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(cpus: try c.decodeIfPresent(Double.self, forKey: .cpus) ?? 0,
                  memoryBytes: try c.decodeIfPresent(Int64.self, forKey: .memoryBytes) ?? 0)
    }
}

import PierSpec
import Foundation
import PierAPI

/// API bodies may leave out every field that has a default: `{"name":"web","task":{"container":
/// {"image":"busybox"}}}` is a complete service spec (decoders at the end of this file).
///
/// A service's desired state, as `pier service create` or a stack's compose file gives it.
/// Swarm's service spec, reduced to what an edge cluster needs.
public struct ServiceSpec: Codable, Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var task: TaskTemplate
    public var mode: ServiceMode
    public var update: UpdateConfig
    public var rollback: UpdateConfig
    /// Further names of the service on its stack's network (`--network-alias`, compose
    /// `networks: default: aliases:`); each a DNS label.
    public var aliases: [String]
    /// How clients reach the tasks by name; Pier serves both modes as DNS round robin.
    public var endpointMode: EndpointMode

    public init(
        name: String, labels: [String: String] = [:], task: TaskTemplate, mode: ServiceMode = .replicated(1),
        update: UpdateConfig = UpdateConfig(), rollback: UpdateConfig = UpdateConfig(), aliases: [String] = [],
        endpointMode: EndpointMode = .vip
    ) {
        self.name = name; self.labels = labels; self.task = task; self.mode = mode
        self.update = update; self.rollback = rollback; self.aliases = aliases; self.endpointMode = endpointMode
    }
}

/// Replicated with a count, or global (one task on every eligible node).
public enum ServiceMode: Codable, Sendable, Equatable {
    case replicated(Int)
    case global

    private enum CodingKeys: String, CodingKey { case mode, replicas }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .mode) {
        case "replicated": self = .replicated(try c.decodeIfPresent(Int.self, forKey: .replicas) ?? 1)
        case "global": self = .global
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .mode, in: c, debugDescription: "mode \"\(other)\" is not replicated or global")
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .replicated(let n): try c.encode("replicated", forKey: .mode); try c.encode(n, forKey: .replicas)
        case .global: try c.encode("global", forKey: .mode)
        }
    }
}

/// What each task of a service runs and where it may run.
public struct TaskTemplate: Codable, Sendable, Equatable {
    /// The container: image, command, env, ports, volumes, devices, limits, health check.
    /// `name`, `restart` and `autoRemove` are ignored; the manager names tasks and restarts them.
    public var container: ContainerSpec
    public var placement: Placement
    /// Reservations are what the scheduler counts against a node's capacity.
    public var reservations: Resources
    public var restartPolicy: RestartPolicy
    /// Platforms the image provides (from its index), filled in by the manager when it pins the
    /// image; the scheduler places tasks only on nodes of one of them. nil: any platform.
    public var platforms: [Platform]?

    public init(container: ContainerSpec, placement: Placement = Placement(), reservations: Resources = .zero, restartPolicy: RestartPolicy = RestartPolicy(), platforms: [Platform]? = nil) {
        self.container = container; self.placement = placement; self.reservations = reservations
        self.restartPolicy = restartPolicy; self.platforms = platforms
    }
}

/// Constraints, preferences and a per-node cap, as Swarm's `--constraint`, `--placement-pref`
/// and `--max-replicas-per-node`.
public struct Placement: Codable, Sendable, Equatable {
    /// `node.labels.K==V`, `node.platform.arch==arm64`, `node.hostname!=X`, `node.role==worker`, `node.id==…`.
    public var constraints: [String]
    /// `spread=node.labels.zone`: tasks are spread evenly over the label's values.
    public var preferences: [String]
    /// At most this many tasks of the service on one node; nil or 0 is no limit.
    public var maxReplicasPerNode: Int?

    public init(constraints: [String] = [], preferences: [String] = [], maxReplicasPerNode: Int? = nil) {
        self.constraints = constraints; self.preferences = preferences; self.maxReplicasPerNode = maxReplicasPerNode
    }
}

/// When a task that ended is replaced (Swarm's `--restart-condition`, `--restart-delay`,
/// `--restart-max-attempts`, `--restart-window`).
public struct RestartPolicy: Codable, Sendable, Equatable {
    public enum Condition: String, Codable, Sendable, CaseIterable {
        case none
        case onFailure = "on-failure"
        case any
    }
    public var condition: Condition
    public var delaySeconds: Double
    /// Restarts allowed within the window; nil or 0: no limit (Swarm's meaning of 0).
    public var maxAttempts: Int?
    /// Window in which attempts are counted; nil: for ever.
    public var windowSeconds: Double?

    public init(condition: Condition = .any, delaySeconds: Double = 5, maxAttempts: Int? = nil, windowSeconds: Double? = nil) {
        self.condition = condition; self.delaySeconds = delaySeconds; self.maxAttempts = maxAttempts
        self.windowSeconds = windowSeconds
    }
}

/// How a rolling update (or rollback) proceeds: compose's `update_config` and `rollback_config`.
public struct UpdateConfig: Codable, Sendable, Equatable {
    public enum FailureAction: String, Codable, Sendable, CaseIterable { case pause, `continue`, rollback }
    public enum Order: String, Codable, Sendable, CaseIterable {
        case stopFirst = "stop-first"
        case startFirst = "start-first"
    }
    /// Tasks updated at once; 0 means all at once.
    public var parallelism: Int
    /// Wait between batches.
    public var delaySeconds: Double
    public var failureAction: FailureAction
    /// How long an updated task is watched (running and, if it has one, healthy) before it counts as a success.
    public var monitorSeconds: Double
    /// Fraction of updated tasks that may fail before the failure action is taken.
    public var maxFailureRatio: Double
    public var order: Order

    public init(parallelism: Int = 1, delaySeconds: Double = 0, failureAction: FailureAction = .pause, monitorSeconds: Double = 5, maxFailureRatio: Double = 0, order: Order = .stopFirst) {
        self.parallelism = parallelism; self.delaySeconds = delaySeconds; self.failureAction = failureAction
        self.monitorSeconds = monitorSeconds; self.maxFailureRatio = maxFailureRatio; self.order = order
    }
}

/// A service as the manager stores it: the spec, the previous one (for rollback) and where an update stands.
///
/// When the manager stores a changed spec it sets `previousSpec` to the old one, increments
/// `version` and clears `updateStatus`; the reconciler then rolls tasks whose template differs.
/// `pier service rollback` does the same with the two specs swapped and `updateStatus` set to
/// `rollback_started`.
public struct Service: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var spec: ServiceSpec
    /// Incremented on every spec change; tasks carry the version they were made from.
    public var version: Int
    public var previousSpec: ServiceSpec?
    public var updateStatus: UpdateStatus?
    public var createdAt: Date
    public var updatedAt: Date
    /// Why the manager set this stored service aside (it fails the checks of a create, or cannot
    /// be read); nil for a usable one. A set-aside service is listed and otherwise left as it is:
    /// its tasks keep running as assigned, nothing is rescheduled or updated.
    public var invalid: String?

    public init(id: String, spec: ServiceSpec, version: Int = 1, previousSpec: ServiceSpec? = nil, updateStatus: UpdateStatus? = nil, createdAt: Date = Date(), updatedAt: Date = Date(), invalid: String? = nil) {
        self.id = id; self.spec = spec; self.version = version; self.previousSpec = previousSpec
        self.updateStatus = updateStatus; self.createdAt = createdAt; self.updatedAt = updatedAt; self.invalid = invalid
    }
}

/// Progress of a rolling update or rollback.
public struct UpdateStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case updating, paused, completed
        case rollbackStarted = "rollback_started"
        case rollbackPaused = "rollback_paused"
        case rollbackCompleted = "rollback_completed"
    }
    public var state: State
    public var message: String
    public var startedAt: Date
    public var completedAt: Date?
    /// Tasks of this update that failed or turned unhealthy within their monitor window; kept so
    /// the failure ratio survives a manager restart.
    public var failedTaskIDs: [String]
    /// When the update began waiting for its image to be staged on the nodes of the tasks it
    /// replaces (download-then-switch); nil when it never had to wait.
    public var stagingSince: Date?

    public init(state: State, message: String, startedAt: Date = Date(), completedAt: Date? = nil, failedTaskIDs: [String] = [],
                stagingSince: Date? = nil) {
        self.state = state; self.message = message; self.startedAt = startedAt; self.completedAt = completedAt
        self.failedTaskIDs = failedTaskIDs; self.stagingSince = stagingSince
    }

    /// True while rolling back (started or paused).
    public var isRollback: Bool { state == .rollbackStarted || state == .rollbackPaused || state == .rollbackCompleted }

    private enum CodingKeys: String, CodingKey { case state, message, startedAt, completedAt, failedTaskIDs, stagingSince }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        state = try c.decode(State.self, forKey: .state)
        message = try c.decode(String.self, forKey: .message)
        startedAt = try c.decode(Date.self, forKey: .startedAt)
        completedAt = try c.decodeIfPresent(Date.self, forKey: .completedAt)
        failedTaskIDs = try c.decodeIfPresent([String].self, forKey: .failedTaskIDs) ?? []
        stagingSince = try c.decodeIfPresent(Date.self, forKey: .stagingSince)
    }
}

extension ServiceSpec {
    private enum CodingKeys: String, CodingKey { case name, labels, task, mode, update, rollback, aliases, endpointMode }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.decode(String.self, forKey: .name),
            labels: try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:],
            task: try c.decode(TaskTemplate.self, forKey: .task),
            mode: try c.decodeIfPresent(ServiceMode.self, forKey: .mode) ?? .replicated(1),
            update: try c.decodeIfPresent(UpdateConfig.self, forKey: .update) ?? UpdateConfig(),
            rollback: try c.decodeIfPresent(UpdateConfig.self, forKey: .rollback) ?? UpdateConfig(),
            aliases: try c.decodeIfPresent([String].self, forKey: .aliases) ?? [],
            endpointMode: try c.decodeIfPresent(EndpointMode.self, forKey: .endpointMode) ?? .vip)
    }
}

extension TaskTemplate {
    private enum CodingKeys: String, CodingKey { case container, placement, reservations, restartPolicy, platforms }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            container: try c.decode(ContainerSpec.self, forKey: .container),
            placement: try c.decodeIfPresent(Placement.self, forKey: .placement) ?? Placement(),
            reservations: try c.decodeIfPresent(Resources.self, forKey: .reservations) ?? .zero,
            restartPolicy: try c.decodeIfPresent(RestartPolicy.self, forKey: .restartPolicy) ?? RestartPolicy(),
            platforms: try c.decodeIfPresent([Platform].self, forKey: .platforms))
    }
}

extension Placement {
    private enum CodingKeys: String, CodingKey { case constraints, preferences, maxReplicasPerNode }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            constraints: try c.decodeIfPresent([String].self, forKey: .constraints) ?? [],
            preferences: try c.decodeIfPresent([String].self, forKey: .preferences) ?? [],
            maxReplicasPerNode: try c.decodeIfPresent(Int.self, forKey: .maxReplicasPerNode))
    }
}

extension RestartPolicy {
    private enum CodingKeys: String, CodingKey { case condition, delaySeconds, maxAttempts, windowSeconds }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RestartPolicy()
        self.init(
            condition: try c.decodeIfPresent(Condition.self, forKey: .condition) ?? d.condition,
            delaySeconds: try c.decodeIfPresent(Double.self, forKey: .delaySeconds) ?? d.delaySeconds,
            maxAttempts: try c.decodeIfPresent(Int.self, forKey: .maxAttempts),
            windowSeconds: try c.decodeIfPresent(Double.self, forKey: .windowSeconds))
    }
}

extension UpdateConfig {
    private enum CodingKeys: String, CodingKey { case parallelism, delaySeconds, failureAction, monitorSeconds, maxFailureRatio, order }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = UpdateConfig()
        self.init(
            parallelism: try c.decodeIfPresent(Int.self, forKey: .parallelism) ?? d.parallelism,
            delaySeconds: try c.decodeIfPresent(Double.self, forKey: .delaySeconds) ?? d.delaySeconds,
            failureAction: try c.decodeIfPresent(FailureAction.self, forKey: .failureAction) ?? d.failureAction,
            monitorSeconds: try c.decodeIfPresent(Double.self, forKey: .monitorSeconds) ?? d.monitorSeconds,
            maxFailureRatio: try c.decodeIfPresent(Double.self, forKey: .maxFailureRatio) ?? d.maxFailureRatio,
            order: try c.decodeIfPresent(Order.self, forKey: .order) ?? d.order)
    }
}

import Foundation

/// The agent–manager session: one long-lived connection (a WebSocket over mutual TLS, or
/// in-process for `pier up`) on which each side sends JSON text messages.
///
///     agent                                   manager
///       | -- hello(description, reports) -->   |   registers the node, marks it ready
///       | <-- welcome(nodeID, heartbeat) ---   |
///       | <-- assignments(full set) -------    |   again whenever the node's set changes
///       | -- heartbeat ------------------->    |   every `heartbeatSeconds`
///       | -- status(reports) ------------->    |   on every task state change
///
/// Assignments are always the node's whole set, so a lost message is repaired by the next
/// one and an agent that reconnects converges without a replay.
public enum AgentMessage: Codable, Sendable, Equatable {
    case hello(AgentHello)
    case heartbeat
    case status([TaskReport])

    private enum CodingKeys: String, CodingKey { case type, hello, reports }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "hello": self = .hello(try c.decode(AgentHello.self, forKey: .hello))
        case "heartbeat": self = .heartbeat
        case "status": self = .status(try c.decode([TaskReport].self, forKey: .reports))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown agent message type \"\(other)\"")
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .hello(let h): try c.encode("hello", forKey: .type); try c.encode(h, forKey: .hello)
        case .heartbeat: try c.encode("heartbeat", forKey: .type)
        case .status(let r): try c.encode("status", forKey: .type); try c.encode(r, forKey: .reports)
        }
    }
}

public enum ManagerMessage: Codable, Sendable, Equatable {
    case welcome(Welcome)
    case assignments(Assignments)

    private enum CodingKeys: String, CodingKey { case type, welcome, assignments }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "welcome": self = .welcome(try c.decode(Welcome.self, forKey: .welcome))
        case "assignments": self = .assignments(try c.decode(Assignments.self, forKey: .assignments))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown manager message type \"\(other)\"")
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .welcome(let w): try c.encode("welcome", forKey: .type); try c.encode(w, forKey: .welcome)
        case .assignments(let a): try c.encode("assignments", forKey: .type); try c.encode(a, forKey: .assignments)
        }
    }
}

public struct AgentHello: Codable, Sendable, Equatable {
    public var description: NodeDescription
    /// The state of every task container the agent holds, so the manager learns what ran while it was away.
    public var reports: [TaskReport]
    public init(description: NodeDescription, reports: [TaskReport]) { self.description = description; self.reports = reports }
}

public struct Welcome: Codable, Sendable, Equatable {
    public var nodeID: String
    public var heartbeatSeconds: Double
    public init(nodeID: String, heartbeatSeconds: Double) { self.nodeID = nodeID; self.heartbeatSeconds = heartbeatSeconds }
}

/// A task's state as the agent sees it.
public struct TaskReport: Codable, Sendable, Equatable {
    public var taskID: String
    public var state: TaskState
    public var message: String
    public var error: String?
    public var containerID: String?
    public var exitCode: Int32?
    /// `starting`, `healthy` or `unhealthy` when the container has a health check.
    public var health: String?
    public var timestamp: Date

    public init(taskID: String, state: TaskState, message: String = "", error: String? = nil, containerID: String? = nil, exitCode: Int32? = nil, health: String? = nil, timestamp: Date = Date()) {
        self.taskID = taskID; self.state = state; self.message = message; self.error = error
        self.containerID = containerID; self.exitCode = exitCode; self.health = health; self.timestamp = timestamp
    }
}

/// Everything a node should run (and what it should stop), versioned so an agent can ignore a stale set.
public struct Assignments: Codable, Sendable, Equatable {
    public var generation: Int
    public var tasks: [AssignedTask]
    public init(generation: Int, tasks: [AssignedTask]) { self.generation = generation; self.tasks = tasks }
}

public struct AssignedTask: Codable, Sendable, Equatable {
    public var taskID: String
    public var serviceID: String
    public var serviceName: String
    /// Container name on the node: `service.slot.taskid` like Swarm's.
    public var containerName: String
    /// Pinned: `name@sha256:…`.
    public var image: String
    public var template: TaskTemplate
    /// `running`, or `shutdown` when the agent must stop it.
    public var desiredState: TaskState
    public init(taskID: String, serviceID: String, serviceName: String, containerName: String, image: String, template: TaskTemplate, desiredState: TaskState) {
        self.taskID = taskID; self.serviceID = serviceID; self.serviceName = serviceName; self.containerName = containerName
        self.image = image; self.template = template; self.desiredState = desiredState
    }
}

extension AssignedTask {
    public init(_ task: ClusterTask) {
        self.init(
            taskID: task.id, serviceID: task.serviceID, serviceName: task.serviceName,
            containerName: "\(task.name).\(task.id)", image: task.image, template: task.template,
            desiredState: task.desiredState)
    }
}

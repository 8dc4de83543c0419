import PierSpec
import Foundation
import PierAccess

/// The agent–manager session: one long-lived connection (a WebSocket over mutual TLS, or
/// in-process for `pier up`) on which each side sends JSON text messages.
///
///     agent                                   manager
///       | -- hello(description, reports) -->   |   registers the node, marks it ready
///       | <-- welcome(nodeID, heartbeat) ---   |
///       | <-- assignments(full set) -------    |   again whenever the node's set changes
///       | -- heartbeat ------------------->    |   every `heartbeatSeconds`
///       | -- status(reports) ------------->    |   on every task state change
///       | <-- logsRequest(id, tasks) ------    |   `pier service logs`
///       | -- logs(id, records…, end) ------>   |   until `end` (or, following, until logsCancel)
///       | -- staged(images) -------------->    |   which of the assignments' `stage` images it holds
///       | <-- trust(roots, revocations) ---    |   after welcome, and whenever either changes
///       | <-- peers(mesh peers) -----------    |   after welcome, and whenever the node's peer set changes
///       | <-- directory(service records) --    |   after welcome, and whenever a name's addresses change
///
/// Assignments are always the node's whole set, so a lost message is repaired by the next
/// one and an agent that reconnects converges without a replay.
public enum AgentMessage: Codable, Sendable, Equatable {
    /// The message types, as the access policy names them (`AccessPolicy.sessionMessages`).
    public enum Kind: String, Sendable, CaseIterable {
        case hello, heartbeat, status, logs, staged
    }

    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .heartbeat: .heartbeat
        case .status: .status
        case .logs: .logs
        case .staged: .staged
        }
    }

    case hello(AgentHello)
    case heartbeat
    case status([TaskReport])
    /// Output of task containers, answering a `logsRequest`.
    case logs(LogChunk)
    /// The images of the last assignments' `stage` list that the node now holds.
    case staged([String])

    private enum CodingKeys: String, CodingKey { case type, hello, reports, logs, images }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "hello": self = .hello(try c.decode(AgentHello.self, forKey: .hello))
        case "heartbeat": self = .heartbeat
        case "status": self = .status(try c.decode([TaskReport].self, forKey: .reports))
        case "logs": self = .logs(try c.decode(LogChunk.self, forKey: .logs))
        case "staged": self = .staged(try c.decode([String].self, forKey: .images))
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
        case .logs(let l): try c.encode("logs", forKey: .type); try c.encode(l, forKey: .logs)
        case .staged(let images): try c.encode("staged", forKey: .type); try c.encode(images, forKey: .images)
        }
    }
}

public enum ManagerMessage: Codable, Sendable, Equatable {
    case welcome(Welcome)
    case assignments(Assignments)
    /// Send the output of these tasks' containers (`pier service logs`).
    case logsRequest(LogsRequest)
    /// Stop following the output of a request (its client went away).
    case logsCancel(String)
    /// The CA certificates to trust and the identities to refuse on the node's direct port; with
    /// `renew`, renew the node certificate now (a CA rotation).
    case trust(TrustUpdate)
    /// The node's mesh peers, whole (see `PeerSet`).
    case peers(PeerSet)
    /// Every service's names and task addresses, whole (see `ServiceDirectory`).
    case directory(ServiceDirectory)

    private enum CodingKeys: String, CodingKey { case type, welcome, assignments, logsRequest, requestID, trust, peers, directory }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "welcome": self = .welcome(try c.decode(Welcome.self, forKey: .welcome))
        case "assignments": self = .assignments(try c.decode(Assignments.self, forKey: .assignments))
        case "logsRequest": self = .logsRequest(try c.decode(LogsRequest.self, forKey: .logsRequest))
        case "logsCancel": self = .logsCancel(try c.decode(String.self, forKey: .requestID))
        case "trust": self = .trust(try c.decode(TrustUpdate.self, forKey: .trust))
        case "peers": self = .peers(try c.decode(PeerSet.self, forKey: .peers))
        case "directory": self = .directory(try c.decode(ServiceDirectory.self, forKey: .directory))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown manager message type \"\(other)\"")
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .welcome(let w): try c.encode("welcome", forKey: .type); try c.encode(w, forKey: .welcome)
        case .assignments(let a): try c.encode("assignments", forKey: .type); try c.encode(a, forKey: .assignments)
        case .logsRequest(let r): try c.encode("logsRequest", forKey: .type); try c.encode(r, forKey: .logsRequest)
        case .logsCancel(let id): try c.encode("logsCancel", forKey: .type); try c.encode(id, forKey: .requestID)
        case .trust(let t): try c.encode("trust", forKey: .type); try c.encode(t, forKey: .trust)
        case .peers(let p): try c.encode("peers", forKey: .type); try c.encode(p, forKey: .peers)
        case .directory(let d): try c.encode("directory", forKey: .type); try c.encode(d, forKey: .directory)
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
    /// The node's subnet and the cluster's data path; nil from a manager without a cluster network.
    public var network: NodeLease?
    public init(nodeID: String, heartbeatSeconds: Double, network: NodeLease? = nil) {
        self.nodeID = nodeID; self.heartbeatSeconds = heartbeatSeconds; self.network = network
    }
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
    /// The container's IPv4 address on the node's bridge, while it runs there.
    public var address: String?

    public init(taskID: String, state: TaskState, message: String = "", error: String? = nil, containerID: String? = nil, exitCode: Int32? = nil, health: String? = nil, timestamp: Date = Date(), address: String? = nil) {
        self.taskID = taskID; self.state = state; self.message = message; self.error = error
        self.containerID = containerID; self.exitCode = exitCode; self.health = health; self.timestamp = timestamp
        self.address = address
    }
}

/// Everything a node should run (and what it should stop), versioned so an agent can ignore a stale set.
public struct Assignments: Codable, Sendable, Equatable {
    public var generation: Int
    public var tasks: [AssignedTask]
    /// Pinned images to fetch ahead of an update that will replace tasks of this node with ones
    /// of these images (download-then-switch); the agent answers with `staged`.
    public var stage: [String]

    public init(generation: Int, tasks: [AssignedTask], stage: [String] = []) {
        self.generation = generation; self.tasks = tasks; self.stage = stage
    }

    private enum CodingKeys: String, CodingKey { case generation, tasks, stage }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        generation = try c.decode(Int.self, forKey: .generation)
        tasks = try c.decode([AssignedTask].self, forKey: .tasks)
        stage = try c.decodeIfPresent([String].self, forKey: .stage) ?? []
    }
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

/// `pier service logs`: which task containers' output a node should send.
public struct LogsRequest: Codable, Sendable, Equatable {
    public var requestID: String
    public var taskIDs: [String]
    /// Records to send from the end of each container's log; nil for all.
    public var tail: Int?
    /// Keep sending new output until `logsCancel`.
    public var follow: Bool
    /// Prefix each line with the time it was written.
    public var timestamps: Bool
    public init(requestID: String, taskIDs: [String], tail: Int? = nil, follow: Bool = false, timestamps: Bool = false) {
        self.requestID = requestID; self.taskIDs = taskIDs; self.tail = tail; self.follow = follow; self.timestamps = timestamps
    }
}

/// Some output of one task's container, or the end of a node's answer.
public struct LogChunk: Codable, Sendable, Equatable {
    public struct Record: Codable, Sendable, Equatable {
        /// `stdout` or `stderr`.
        public var stream: String
        /// The bytes (base64 in JSON).
        public var data: Data
        public init(stream: String, data: Data) { self.stream = stream; self.data = data }
    }
    public var requestID: String
    public var taskID: String?
    public var records: [Record]
    /// The node has sent everything it will for this request.
    public var end: Bool
    public init(requestID: String, taskID: String? = nil, records: [Record] = [], end: Bool = false) {
        self.requestID = requestID; self.taskID = taskID; self.records = records; self.end = end
    }
}

/// What a node must trust and refuse: the manager sends it after `welcome` and whenever it
/// changes. The node keeps it on disk and enforces it on its direct port while the manager is away.
public struct TrustUpdate: Codable, Sendable, Equatable {
    /// PEM certificates of the cluster CAs to trust (two while the CA rotates).
    public var roots: [String]
    /// Removed nodes and revoked client certificates.
    public var revocations: RevocationList
    /// Renew the node certificate now, from the CA the rotation moves to.
    public var renew: Bool

    public init(roots: [String], revocations: RevocationList, renew: Bool = false) {
        self.roots = roots; self.revocations = revocations; self.renew = renew
    }
}

/// The session's JSON coding, the same at both ends (the agent's WebSocket transport and the
/// manager's session route): dates as ISO 8601, to the second.
public enum SessionCoding {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

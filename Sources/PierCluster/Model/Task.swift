import Foundation

/// A task's lifecycle, as Swarm's: the manager moves it to `assigned`, the agent reports the rest.
///
///     new → pending → assigned → preparing → starting → running → complete | failed | shutdown
///                 ↘ (no node fits: stays pending with the reason)          rejected | orphaned
public enum TaskState: String, Codable, Sendable, CaseIterable, Comparable {
    case new, pending, assigned, preparing, starting, running, complete, shutdown, failed, rejected, orphaned

    /// The task will not run again; a replacement is a new task.
    public var isTerminal: Bool { self >= .complete }

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: TaskState, b: TaskState) -> Bool { a.rank < b.rank }
}

/// One entry of a task's history.
public struct TaskStatus: Codable, Sendable, Equatable {
    public var state: TaskState
    public var timestamp: Date
    /// What happened, for people (`started`, `no suitable node (constraint node.labels.zone==b)`).
    public var message: String
    /// Set when the task failed or was rejected.
    public var error: String?
    public var containerID: String?
    public var exitCode: Int32?

    public init(state: TaskState, timestamp: Date = Date(), message: String = "", error: String? = nil, containerID: String? = nil, exitCode: Int32? = nil) {
        self.state = state; self.timestamp = timestamp; self.message = message; self.error = error
        self.containerID = containerID; self.exitCode = exitCode
    }
}

/// One instance of a service on one node.
public struct ClusterTask: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var serviceID: String
    public var serviceName: String
    /// Replica number (1…N) for replicated services; nil for global ones, which are keyed by node.
    public var slot: Int?
    /// Set once scheduled.
    public var nodeID: String?
    /// The service version the task was made from.
    public var serviceVersion: Int
    public var template: TaskTemplate
    /// The image pinned to a digest at deploy time (`name@sha256:…`), so every node runs the same bytes.
    public var image: String
    /// What the manager wants: `running`, or `shutdown` when the task is being replaced or removed.
    public var desiredState: TaskState
    public var status: TaskStatus
    /// Every status the task went through, oldest first; the last is `status`.
    public var history: [TaskStatus]
    public var createdAt: Date
    /// Health as last reported by the agent (`healthy`, `unhealthy`, `starting`), if the container has a check.
    public var health: String?
    /// The container's IPv4 address on its node's bridge, as last reported while it runs.
    public var address: String?

    public init(
        id: String, serviceID: String, serviceName: String, slot: Int?, nodeID: String? = nil, serviceVersion: Int,
        template: TaskTemplate, image: String, desiredState: TaskState = .running,
        status: TaskStatus = TaskStatus(state: .new, message: "created"), createdAt: Date = Date(), health: String? = nil
    ) {
        self.id = id; self.serviceID = serviceID; self.serviceName = serviceName; self.slot = slot
        self.nodeID = nodeID; self.serviceVersion = serviceVersion; self.template = template; self.image = image
        self.desiredState = desiredState; self.status = status; self.history = [status]; self.createdAt = createdAt
        self.health = health
    }

    /// Moves to a new status and records it in the history (kept to the last 16 entries).
    public mutating func transition(to status: TaskStatus) {
        self.status = status
        history.append(status)
        if history.count > 16 { history.removeFirst(history.count - 16) }
    }

    /// Swarm's task name: `service.slot` or `service.nodeID` for global services.
    public var name: String { "\(serviceName).\(slot.map(String.init) ?? (nodeID ?? id))" }
}

import PierSpec
import Foundation

/// Lifecycle state of a container, as `pier ps` shows it.
public enum ContainerState: String, Codable, Sendable, CaseIterable {
    case created, running, restarting, exited, dead
}

/// Health as the last health checks found it.
public enum HealthStatus: String, Codable, Sendable {
    case none, starting, healthy, unhealthy
}

/// One line of `pier ps` (`GET /v1/containers`).
public struct ContainerSummary: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var image: String
    public var imageDigest: String
    public var command: String
    public var created: Date
    public var state: ContainerState
    public var startedAt: Date?
    public var finishedAt: Date?
    public var exitCode: Int32?
    public var health: HealthStatus
    public var restartCount: Int
    public var network: String
    public var ports: [String]
    public var labels: [String: String]
    /// Why the agent set this container aside (its stored record fails the checks of a create or
    /// cannot be read); nil for a usable container. A set-aside container is left as it is.
    public var invalid: String?

    public init(id: String, name: String, image: String, imageDigest: String, command: String, created: Date,
                state: ContainerState, startedAt: Date?, finishedAt: Date?, exitCode: Int32?, health: HealthStatus,
                restartCount: Int, network: String, ports: [String], labels: [String: String]) {
        self.id = id; self.name = name; self.image = image; self.imageDigest = imageDigest; self.command = command
        self.created = created; self.state = state; self.startedAt = startedAt; self.finishedAt = finishedAt
        self.exitCode = exitCode; self.health = health; self.restartCount = restartCount; self.network = network
        self.ports = ports; self.labels = labels
    }
}

/// One health check result.
public struct HealthLogEntry: Codable, Sendable, Equatable {
    public var start: Date
    public var end: Date
    public var exitCode: Int32
    public var output: String
    public init(start: Date, end: Date, exitCode: Int32, output: String) {
        self.start = start; self.end = end; self.exitCode = exitCode; self.output = output
    }
}

/// `pier inspect CONTAINER` (`GET /v1/containers/{id}`).
public struct ContainerDetails: Codable, Sendable, Equatable {
    public var summary: ContainerSummary
    public var config: ContainerSpec
    /// PID of the container's init process on the host, while running.
    public var pid: Int32?
    public var ipAddress: String?
    public var bundlePath: String
    public var rootfsPath: String
    public var logPath: String
    public var cgroupPath: String
    public var error: String?
    public var healthLog: [HealthLogEntry]
    public var failingStreak: Int
    /// How the container is confined, once it has been started.
    public var security: ContainerSecurity?

    public init(summary: ContainerSummary, config: ContainerSpec, pid: Int32?, ipAddress: String?,
                bundlePath: String, rootfsPath: String, logPath: String, cgroupPath: String, error: String?,
                healthLog: [HealthLogEntry], failingStreak: Int, security: ContainerSecurity? = nil) {
        self.summary = summary; self.config = config; self.pid = pid; self.ipAddress = ipAddress
        self.bundlePath = bundlePath; self.rootfsPath = rootfsPath; self.logPath = logPath
        self.cgroupPath = cgroupPath; self.error = error; self.healthLog = healthLog; self.failingStreak = failingStreak
        self.security = security
    }
}

/// Resource use read from the container's cgroups (`GET /v1/containers/{id}/stats`).
public struct ContainerStats: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// CPU use since the previous sample, in percent of one CPU (Docker's convention).
    public var cpuPercent: Double
    public var cpuTotalNanoseconds: UInt64
    public var memoryBytes: UInt64
    /// nil when unlimited.
    public var memoryLimitBytes: UInt64?
    public var pids: UInt64
    public var read: Date

    public init(id: String, name: String, cpuPercent: Double, cpuTotalNanoseconds: UInt64, memoryBytes: UInt64,
                memoryLimitBytes: UInt64?, pids: UInt64, read: Date) {
        self.id = id; self.name = name; self.cpuPercent = cpuPercent; self.cpuTotalNanoseconds = cpuTotalNanoseconds
        self.memoryBytes = memoryBytes; self.memoryLimitBytes = memoryLimitBytes; self.pids = pids; self.read = read
    }
}

import Foundation
import GRDB
import PierAPI

/// One container as the agent's database keeps it. Everything needed to adopt the
/// container after an agent restart is here.
struct ContainerRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "container"

    var id: String
    var name: String
    var image: String
    var imageDigest: String
    var config: ContainerCreateRequest
    var state: ContainerState
    var created: Date
    var startedAt: Date?
    var finishedAt: Date?
    var exitCode: Int32?
    var error: String?
    /// PID of the container's init (host namespace), while running.
    var pid: Int32?
    /// PID of the container's `pier-shim`, while running.
    var shimPid: Int32?
    var restartCount: Int
    /// Set by `stop`/`kill` from a user, so restart policies do not bring it back.
    var manuallyStopped: Bool
    var health: HealthStatus
    var healthLog: [HealthLogEntry]
    var failingStreak: Int
    var ipAddress: String?
    /// The command as run: entrypoint + cmd after image defaults.
    var command: [String]
}

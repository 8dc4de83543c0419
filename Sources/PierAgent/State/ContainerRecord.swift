import PierSpec
import Foundation
import GRDB
import PierAPI
import PierRuntime

/// One container as the agent's database keeps it. Everything needed to adopt the
/// container after an agent restart is here.
struct ContainerRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "container"

    var id: String
    var name: String
    var image: String
    var imageDigest: String
    var config: ContainerSpec
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

    // Dates are stored as GRDB stores them by default (`2026-01-02 15:04:05.123`, UTC), but
    // written and read without Foundation's DateFormatter and Calendar, which would load ICU's
    // locale and time-zone data into the agent for good (about 3 MiB resident).
    static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy {
        .custom { UTCTimestamp.format($0, separator: " ", fractionDigits: 3, zulu: false) }
    }

    static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy {
        .custom { value in
            switch value.storage {
            case .string(let text): UTCTimestamp.parse(text)
            case .double(let seconds): Date(timeIntervalSince1970: seconds)
            case .int64(let seconds): Date(timeIntervalSince1970: Double(seconds))
            case .null, .blob: nil
            }
        }
    }
}

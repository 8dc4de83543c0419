import Foundation

/// Errors of the manager's API, each mapped to an HTTP status by the server.
public enum ManagerError: Error, CustomStringConvertible, Sendable {
    case invalid(String)
    case notFound(String)
    case conflict(String)
    case unauthorized(String)
    /// A request body over its limit (413): the message names the limit.
    case tooLarge(String)
    case failed(String)
    /// The manager's state cannot be used (degraded): the message names the problem and the remedy.
    case unavailable(String)

    public var description: String {
        switch self {
        case .invalid(let m), .notFound(let m), .conflict(let m), .unauthorized(let m), .tooLarge(let m), .failed(let m), .unavailable(let m): m
        }
    }
}

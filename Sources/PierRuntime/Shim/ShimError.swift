/// Why a container could not be started under its shim.
public enum ShimError: Error, CustomStringConvertible, Sendable, Equatable {
    case binaryNotFound(searched: [String])
    /// runc could not start the container; `message` is runc's error.
    case startFailed(id: String, message: String)
    /// The shim ended without saying whether the container started.
    case exitedEarly(id: String, status: String, shimLog: String)
    case timedOut(id: String, seconds: Int64)
    case badReply(id: String, line: String)

    public var description: String {
        switch self {
        case .binaryNotFound(let searched):
            return "pier-shim not found (looked in \(searched.joined(separator: ", "))); install it next to pier or set PIER_SHIM"
        case .startFailed(let id, let message):
            return "container \(id) could not be started: \(message)"
        case .exitedEarly(let id, let status, let log):
            return "the shim of container \(id) \(status) before starting it" + (log.isEmpty ? "" : ": \(log)")
        case .timedOut(let id, let seconds):
            return "container \(id) did not start within \(seconds) s; the shim was stopped"
        case .badReply(let id, let line):
            return "the shim of container \(id) answered \"\(line)\"; is pier-shim the same version as pier?"
        }
    }
}

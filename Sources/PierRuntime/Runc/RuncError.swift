/// What went wrong running runc.
public enum RuncError: Error, CustomStringConvertible, Sendable, Equatable {
    /// No runc binary was found.
    case binaryNotFound(searched: [String])
    /// runc does not know the container.
    case containerNotFound(id: String)
    /// The container exists but is not running (for `kill`).
    case notRunning(id: String)
    /// runc failed; `message` is runc's own error.
    case failed(command: String, id: String, status: String, message: String)
    /// runc's output could not be understood.
    case badOutput(command: String, detail: String)
    /// A process run with `exec` did not finish in time and was killed.
    case execTimedOut(id: String, seconds: Double)

    public var description: String {
        switch self {
        case .binaryNotFound(let searched):
            return "runc not found (looked in \(searched.joined(separator: ", "))); install runc or set PIER_RUNC"
        case .containerNotFound(let id):
            return "runc has no container \(id)"
        case .notRunning(let id):
            return "container \(id) is not running"
        case .failed(let command, let id, let status, let message):
            return "runc \(command) \(id) failed (\(status)): \(message)"
        case .badOutput(let command, let detail):
            return "cannot understand the output of runc \(command): \(detail)"
        case .execTimedOut(let id, let seconds):
            return "process in container \(id) did not finish within \(seconds) s and was killed"
        }
    }
}

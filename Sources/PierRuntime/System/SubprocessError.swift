/// Why a helper program could not be run.
public enum SubprocessError: Error, CustomStringConvertible, Sendable, Equatable {
    case spawnFailed(path: String, reason: String)
    case pipeFailed(reason: String)

    public var description: String {
        switch self {
        case .spawnFailed(let path, let reason):
            return "cannot run \(path): \(reason); check that it is installed and executable"
        case .pipeFailed(let reason):
            return "cannot create a pipe for a subprocess: \(reason) (too many open files?)"
        }
    }
}

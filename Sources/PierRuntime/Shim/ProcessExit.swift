/// How a watched process ended.
public enum ProcessExit: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    /// It ended, but it was not our child, so its status is not ours to read (a shim adopted
    /// after an agent restart: read its exit file instead).
    case unknown

    /// Docker's convention: the exit status, or 128 + the signal number.
    public var exitCode: Int32? {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        case .unknown: return nil
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let signal): return "killed by signal \(signal)"
        case .unknown: return "ended (status unknown: not a child of this process)"
        }
    }
}

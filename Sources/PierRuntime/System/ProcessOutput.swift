/// A chunk of output of a process: runc, a CNI plugin, or a process run in a container.
public enum ProcessOutput: Sendable, Equatable {
    case stdout([UInt8])
    case stderr([UInt8])
}

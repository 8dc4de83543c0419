/// Resource use of one container, read from its cgroup.
public struct ResourceUsage: Sendable, Equatable {
    /// CPU time used since the container started, all CPUs together.
    public var cpuNanoseconds: UInt64
    /// Memory in use without reclaimable page cache (Docker's `usage - inactive_file`).
    public var memoryBytes: UInt64
    /// nil when unlimited.
    public var memoryLimitBytes: UInt64?
    /// Processes and threads in the container.
    public var pids: UInt64

    public init(cpuNanoseconds: UInt64, memoryBytes: UInt64, memoryLimitBytes: UInt64?, pids: UInt64) {
        self.cpuNanoseconds = cpuNanoseconds; self.memoryBytes = memoryBytes
        self.memoryLimitBytes = memoryLimitBytes; self.pids = pids
    }
}

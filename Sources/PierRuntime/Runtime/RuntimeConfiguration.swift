import Foundation

/// Settings of the runc-based runtime, with defaults for a single gateway.
public struct RuntimeConfiguration: Sendable {
    /// Runtime state lives below: `runc/` (runc's `--root`) and `cni/`.
    public var dataRoot: URL
    /// nil: `Runc.locate()`.
    public var runcPath: String?
    /// nil: `ShimLauncher.locate()`.
    public var shimPath: String?
    public var network: NetworkConfiguration
    public var cgroupRoot: URL
    /// Parent of every container's cgroup.
    public var cgroupParent: String
    /// How long runc may take to start a container.
    public var startTimeout: Duration

    public init(
        dataRoot: URL, runcPath: String? = nil, shimPath: String? = nil,
        network: NetworkConfiguration = NetworkConfiguration(),
        cgroupRoot: URL = URL(fileURLWithPath: "/sys/fs/cgroup"), cgroupParent: String = "/pier",
        startTimeout: Duration = .seconds(30)
    ) {
        self.dataRoot = dataRoot; self.runcPath = runcPath; self.shimPath = shimPath; self.network = network
        self.cgroupRoot = cgroupRoot; self.cgroupParent = cgroupParent; self.startTimeout = startTimeout
    }
}

import PierSpec
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
    /// The user namespace of containers that do not choose (`pier agent --userns`).
    public var userns: UsernsMode
    /// How layers are given to remapped containers; nil: idmapped where the kernel can, else copies.
    public var layerIDMapping: LayerIDMapping?
    /// Where the `pier` subordinate id ranges are (and are added when absent).
    public var subuidPath: String
    public var subgidPath: String
    /// Where a remapped container's directory is bound for runc: runc's init reaches the root
    /// filesystem and mount sources as the mapped root, which cannot search a private (0700)
    /// data root. Every directory down to here must be searchable by others.
    public var remapRoot: URL

    public init(
        dataRoot: URL, runcPath: String? = nil, shimPath: String? = nil,
        network: NetworkConfiguration = NetworkConfiguration(),
        cgroupRoot: URL = URL(fileURLWithPath: "/sys/fs/cgroup"), cgroupParent: String = "/pier",
        startTimeout: Duration = .seconds(30), userns: UsernsMode = .host, layerIDMapping: LayerIDMapping? = nil,
        subuidPath: String = "/etc/subuid", subgidPath: String = "/etc/subgid",
        remapRoot: URL = URL(fileURLWithPath: "/run/pier/userns")
    ) {
        self.dataRoot = dataRoot; self.runcPath = runcPath; self.shimPath = shimPath; self.network = network
        self.cgroupRoot = cgroupRoot; self.cgroupParent = cgroupParent; self.startTimeout = startTimeout
        self.userns = userns; self.layerIDMapping = layerIDMapping; self.subuidPath = subuidPath; self.subgidPath = subgidPath
        self.remapRoot = remapRoot
    }
}

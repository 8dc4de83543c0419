/// The bridge network containers with `--network bridge` join (CNI `bridge` + `host-local`
/// IPAM + `portmap`).
public struct NetworkConfiguration: Sendable, Equatable {
    /// CNI network name; it appears in the iptables rules' comments.
    public var name: String
    public var bridge: String
    /// IPv4 subnet in CIDR form; the bridge gets its first address.
    public var subnet: String
    /// Where CNI plugin binaries are looked for (`CNI_PATH`).
    public var pluginDirectories: [String]
    /// The container's interface.
    public var interfaceName: String
    /// How many network namespaces are kept connected to the bridge ahead of need, so that a
    /// container starts without waiting for the plugins (0: none). See `CNINetwork.setUp`.
    public var poolSize: Int
    /// How long after a container took a pooled namespace the pool is topped up (so that the
    /// plugins do not compete with the container starting).
    public var poolRefillDelay: Duration = .seconds(1)
    /// Whether the bridge plugin masquerades everything the containers send off the subnet. A
    /// node of a cluster network turns it off and masquerades only what leaves the cluster range
    /// itself, so that addresses between nodes keep their source.
    public var ipMasq = true
    /// The MTU of the bridge's container interfaces (the mesh's, on a node of a cluster network);
    /// nil: the kernel's default.
    public var mtu: Int?
    /// Replace an address the bridge already has on another subnet by this one's gateway (the
    /// plugin's `forceAddress`; without it the plugin refuses to add a second IPv4 address). A
    /// node moving to its leased subnet sets it: containers attached before keep their
    /// addresses but lose their gateway.
    public var replaceBridgeAddress = false

    public static let maxPoolSize = 16
    /// The MTUs a container interface may have (IPv4's minimum to a jumbo frame).
    public static let mtuRange = 576...9216

    public init(
        name: String = "pier", bridge: String = "pier0", subnet: String = "10.89.0.0/16",
        pluginDirectories: [String] = ["/usr/lib/cni", "/opt/cni/bin", "/usr/libexec/cni"],
        interfaceName: String = "eth0", poolSize: Int = 0
    ) {
        self.name = name; self.bridge = bridge; self.subnet = subnet
        self.pluginDirectories = pluginDirectories; self.interfaceName = interfaceName; self.poolSize = poolSize
    }

    /// Checks the subnet: IPv4 CIDR with a prefix from 8 to 30.
    func validate() throws {
        let parts = subnet.split(separator: "/")
        let octets = parts.first?.split(separator: ".").compactMap { UInt8($0) } ?? []
        guard parts.count == 2, octets.count == 4, let prefix = Int(parts[1]), (8...30).contains(prefix) else {
            throw NetworkError.badConfiguration(
                "bridge subnet \"\(subnet)\" is not an IPv4 CIDR with a prefix of 8 to 30, e.g. 10.89.0.0/16")
        }
        guard !bridge.isEmpty, bridge.count <= 15 else {
            throw NetworkError.badConfiguration("bridge name \"\(bridge)\" must be 1 to 15 characters")
        }
        guard (0...Self.maxPoolSize).contains(poolSize) else {
            throw NetworkError.badConfiguration("network pool size \(poolSize): expected 0 to \(Self.maxPoolSize)")
        }
        if let mtu, !Self.mtuRange.contains(mtu) {
            throw NetworkError.badConfiguration("bridge MTU \(mtu): expected \(Self.mtuRange.lowerBound) to \(Self.mtuRange.upperBound)")
        }
    }
}

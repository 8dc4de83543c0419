import PierCluster

/// How this node takes part in the cluster's mesh (`pier agent --mesh-interface --mesh-port
/// --node-mtu --relay`).
public struct MeshOptions: Sendable, Equatable {
    /// The mesh interface's name; nil: `pier-wg0` for WireGuard, `pier-vx0` for VXLAN. Nodes
    /// simulated on one machine need one each (wireguard-go's control socket is
    /// `/var/run/wireguard/NAME.sock` whatever the network namespace).
    public var interface: String?
    /// The UDP port WireGuard listens on.
    public var port: Int
    /// The mesh's MTU on this node, over the manager's and the underlay's (cellular, PPPoE).
    public var mtu: Int?
    /// This node offers to relay between peers behind NAT.
    public var relay: Bool

    public static let defaultWireGuardInterface = "pier-wg0"
    public static let defaultVXLANInterface = "pier-vx0"
    /// WireGuard's minimum for IPv6 inner traffic is 1280; IPv4 alone works down to 576.
    public static let mtuRange = 576...9000

    public init(interface: String? = nil, port: Int = WireGuardAddressing.defaultPort, mtu: Int? = nil, relay: Bool = false) {
        self.interface = interface; self.port = port; self.mtu = mtu; self.relay = relay
    }

    /// The interface of `dataPath`.
    public func interfaceName(for dataPath: DataPath) -> String {
        interface ?? (dataPath == .wireguard ? Self.defaultWireGuardInterface : Self.defaultVXLANInterface)
    }

    /// Checks every option; the error names the flag and its limit.
    public func validate() throws(MeshError) {
        if let interface { try Self.checkInterfaceName(interface, flag: "--mesh-interface") }
        guard (1...65535).contains(port) else { throw .badOption("--mesh-port \(port): expected 1 to 65535") }
        if let mtu, !Self.mtuRange.contains(mtu) {
            throw .badOption("--node-mtu \(mtu): expected \(Self.mtuRange.lowerBound) to \(Self.mtuRange.upperBound)")
        }
    }

    /// A Linux interface name: 1 to 15 characters of letters, digits, `-`, `_` and `.`, not `.` or `..`.
    public static func checkInterfaceName(_ name: String, flag: String) throws(MeshError) {
        let allowed = name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
        guard !name.isEmpty, name.utf8.count <= 15, allowed, name != ".", name != ".." else {
            throw .badOption("\(flag) \"\(name.prefix(64))\": an interface name is 1 to 15 characters of letters, digits, '-', '_' and '.'")
        }
    }
}

import Foundation

/// Why the cluster network's settings cannot be used, or a node cannot get a subnet.
public enum ClusterNetworkError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The range has host bits set (`10.89.3.7/16`).
    case rangeNotANetwork(IPv4Network)
    /// The range is loopback, multicast or otherwise not routable between nodes.
    case rangeReserved(IPv4Network, reserved: IPv4Network, use: String)
    /// The node prefix is longer than /30 (no room for a gateway and containers) or not a prefix length.
    case nodePrefixTooLong(Int)
    /// The range holds fewer than two node subnets of the node prefix.
    case rangeTooSmall(IPv4Network, nodePrefix: Int)
    /// The range overlaps an address of one of the manager host's interfaces.
    case overlapsHostInterface(IPv4Network, interface: String, address: IPv4Network)
    case mtuOutOfRange(Int)
    case graceOutOfRange(Double)
    /// The manager's store holds other settings than it was started with.
    case storedSettingsDiffer(stored: ClusterNetworkSettings, given: ClusterNetworkSettings)
    /// Every node subnet of the range is leased or still reserved after a node's removal.
    case rangeExhausted(IPv4Network, nodePrefix: Int, capacity: Int, reserved: Int)

    public var description: String {
        switch self {
        case .rangeNotANetwork(let range):
            "cluster CIDR \(range) has host bits set; did you mean \(range.network)?"
        case .rangeReserved(let range, let reserved, let use):
            "cluster CIDR \(range) overlaps \(reserved) (\(use)); choose a private range such as 10.89.0.0/16"
        case .nodePrefixTooLong(let prefix) where prefix < 1:
            "node prefix \(prefix) is not a prefix length; give 16 to 30 (24 is usual)"
        case .nodePrefixTooLong(let prefix):
            "node prefix /\(prefix) is longer than /30: a node subnet needs room for its gateway and containers; give 16 to 30 (24 is usual)"
        case .rangeTooSmall(let range, let prefix):
            "cluster CIDR \(range) (/\(range.prefix)) holds \(prefix < range.prefix ? "no" : "only \(Self.capacity(range, prefix))") "
                + "node subnet\(prefix == range.prefix ? "" : "s") of /\(prefix); a cluster needs at least 2: give a node prefix of at least /\(range.prefix + 1) "
                + "or a range of /\(max(0, prefix - 1)) or larger"
        case .overlapsHostInterface(let range, let interface, let address):
            "cluster CIDR \(range) overlaps \(address) on this host's interface \(interface); containers' addresses would shadow that network. "
                + "Choose a range that no network of this host uses (for example 10.89.0.0/16 or 172.31.0.0/16)"
        case .mtuOutOfRange(let mtu):
            "mesh MTU \(mtu) is outside 576…65535"
        case .graceOutOfRange(let seconds):
            "subnet grace \(seconds)s is outside 0s…8760h"
        case .storedSettingsDiffer(let stored, let given):
            "this cluster's network was set up with --cluster-cidr \(stored.range) --node-prefix \(stored.nodePrefix), "
                + "which every node's subnet comes from; it cannot change to --cluster-cidr \(given.range) --node-prefix \(given.nodePrefix). "
                + "Start the manager with the stored values (or without these flags when they are the defaults), or set up a new cluster with a new data root"
        case .rangeExhausted(let range, let prefix, let capacity, let reserved):
            "cluster CIDR \(range) holds \(capacity) node subnet\(capacity == 1 ? "" : "s") of /\(prefix) and none is free"
                + (reserved > 0 ? " (\(reserved) of them reserved after a node's removal until the subnet grace period ends)" : "")
                + "; remove nodes that are gone (pier node rm), or set up the cluster with a larger range or a longer node prefix"
        }
    }

    /// How many node subnets of `prefix` fit in `range` (saturated at Int.max).
    static func capacity(_ range: IPv4Network, _ prefix: Int) -> Int {
        guard prefix >= range.prefix else { return 0 }
        return prefix - range.prefix >= 62 ? Int.max : 1 << (prefix - range.prefix)
    }
}

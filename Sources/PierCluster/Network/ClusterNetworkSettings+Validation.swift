import Foundation

extension ClusterNetworkSettings {
    /// Ranges no cluster may lease from: they never route between nodes.
    static let reservedRanges: [(IPv4Network, String)] = [
        (IPv4Network(address: 0, prefix: 8), "\"this network\""),
        (IPv4Network(address: 127 << 24, prefix: 8), "loopback"),
        (IPv4Network(address: 169 << 24 | 254 << 16, prefix: 16), "link-local"),
        (IPv4Network(address: 224 << 24, prefix: 4), "multicast"),
        (IPv4Network(address: 240 << 24, prefix: 4), "reserved"),
    ]

    /// How many node subnets the range holds.
    public var capacity: Int { ClusterNetworkError.capacity(range, nodePrefix) }

    /// Checks the settings on their own: the range is a routable network holding at least two
    /// node subnets, and the MTU and grace period are in range.
    public func validate() throws(ClusterNetworkError) {
        guard range.address == range.network.address else { throw .rangeNotANetwork(range) }
        for (reserved, use) in Self.reservedRanges where range.overlaps(reserved) {
            throw .rangeReserved(range, reserved: reserved, use: use)
        }
        guard (1...30).contains(nodePrefix) else { throw .nodePrefixTooLong(nodePrefix) }
        guard nodePrefix > range.prefix else { throw .rangeTooSmall(range, nodePrefix: nodePrefix) }
        if let mtu, !(576...65535).contains(mtu) { throw .mtuOutOfRange(mtu) }
        guard releaseGraceSeconds.isFinite, (0...8760 * 3600).contains(releaseGraceSeconds) else {
            throw .graceOutOfRange(releaseGraceSeconds)
        }
    }

    /// Checks the range against the manager host's own interface addresses (`address/prefix` as
    /// configured, by interface name): a range that overlaps one of their networks would shadow
    /// it. `ignoring` names interfaces Pier made itself (bridges, mesh interfaces), whose
    /// addresses come from the range.
    public func validate(hostInterfaces: [(name: String, address: IPv4Network)], ignoring: (String) -> Bool) throws(ClusterNetworkError) {
        for (name, address) in hostInterfaces where !ignoring(name) {
            // Loopback's 127/8 cannot overlap a valid range; skip it for clarity.
            if address.network == IPv4Network(address: 127 << 24, prefix: 8) { continue }
            if range.overlaps(address.network) { throw .overlapsHostInterface(range, interface: name, address: address) }
        }
    }

    /// Whether `other` uses the same addresses: a cluster's range and node prefix never change
    /// once nodes hold subnets from them.
    public func sameAddressing(as other: ClusterNetworkSettings) -> Bool {
        range == other.range && nodePrefix == other.nodePrefix
    }
}

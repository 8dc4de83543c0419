import Foundation

/// Leases node subnets from the cluster range: a pure function of the settings, the current
/// leases and the subnets released by removed nodes. The manager stores what it decides.
///
/// A node keeps its subnet for as long as it is a member (across manager and agent restarts);
/// a node the manager has no lease for gets back the subnet it reports holding when that one is
/// free; otherwise it gets the lowest free subnet. A removed node's subnet stays reserved for
/// `releaseGraceSeconds`, so that containers still running on a node that was removed while cut
/// off do not share addresses with a newcomer's.
public struct SubnetAllocator: Sendable {
    public var settings: ClusterNetworkSettings
    /// Current leases by node id.
    public var leases: [String: IPv4Network]
    /// Subnets of removed nodes and when they were released.
    public var released: [IPv4Network: Date]

    public init(settings: ClusterNetworkSettings, leases: [String: IPv4Network] = [:], released: [IPv4Network: Date] = [:]) {
        self.settings = settings; self.leases = leases; self.released = released
    }

    /// Whether `subnet` is a node subnet of this cluster: a network of the node prefix inside the range.
    public func isNodeSubnet(_ subnet: IPv4Network) -> Bool {
        subnet.prefix == settings.nodePrefix && subnet.address == subnet.network.address && settings.range.contains(subnet)
    }

    /// The subnet `nodeID` holds or gets now. `requested`: the subnet the node reports holding
    /// from an earlier lease, honoured when it is a node subnet of this cluster and free.
    public func lease(for nodeID: String, requested: IPv4Network? = nil, now: Date) throws(ClusterNetworkError) -> IPv4Network {
        let others = leases.filter { $0.key != nodeID }
        let held = Set(others.values)
        if let current = leases[nodeID], isNodeSubnet(current), !held.contains(current) { return current }
        let reserved = Set(released.filter { now.timeIntervalSince($0.value) < settings.releaseGraceSeconds }.keys.filter(isNodeSubnet))
        func free(_ s: IPv4Network) -> Bool { !held.contains(s) && !reserved.contains(s) }
        if let requested, isNodeSubnet(requested), free(requested) { return requested }
        let taken = held.union(reserved).filter(isNodeSubnet)
        let capacity = settings.capacity
        if taken.count < capacity {
            // The lowest free index: at most `taken.count + 1` candidates to look at.
            var n = 0
            while let candidate = settings.range.subnet(n, length: settings.nodePrefix) {
                if !taken.contains(candidate) { return candidate }
                n += 1
            }
        }
        throw .rangeExhausted(
            settings.range, nodePrefix: settings.nodePrefix, capacity: capacity,
            reserved: reserved.subtracting(held).count)
    }

    /// Released subnets whose grace period is over at `now` (their records can go).
    public func expired(now: Date) -> [IPv4Network] {
        released.filter { now.timeIntervalSince($0.value) >= settings.releaseGraceSeconds }.keys.sorted()
    }
}

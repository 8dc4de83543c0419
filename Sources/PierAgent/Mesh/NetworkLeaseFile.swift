import Foundation
import PierCluster
import PierRuntime

/// The subnet the manager leased this node, kept in `<dataRoot>/cluster/network.json` so that
/// containers get addresses from it while the manager is unreachable and across restarts.
public struct NetworkLeaseFile: Sendable {
    public let url: URL

    public init(dataRoot: URL) { url = dataRoot.appendingPathComponent("cluster/network.json") }

    /// The stored lease, nil when the node never got one. A file that does not decode, or holds
    /// a lease that fails the checks, is an error naming the file.
    public func load() throws(MeshError) -> NodeLease? {
        let lease: NodeLease?
        do { lease = try MeshFiles.readJSON(NodeLease.self, from: url) } catch let error as MeshError { throw error } catch {
            throw .storage("\(error)")
        }
        guard let lease else { return nil }
        do { try Self.check(lease, underlay: []) } catch { throw .storage("\(url.path): \(error)") }
        return lease
    }

    /// Stores `lease` atomically.
    public func save(_ lease: NodeLease) throws(MeshError) {
        do { try MeshFiles.writeJSON(lease, to: url) } catch let error as MeshError { throw error } catch {
            throw .storage("cannot write \(url.path): \(error)")
        }
    }

    /// Checks a lease before anything uses it: a subnet the bridge can have, inside the cluster
    /// range, an MTU in range, and no overlap with one of the node's own underlay networks
    /// (`underlay`, address and prefix: containers would shadow the node's LAN).
    public static func check(_ lease: NodeLease, underlay: [IPv4Network]) throws(MeshError) {
        let subnet = lease.subnet
        guard subnet == subnet.network else { throw .badLease("leased subnet \(subnet) has host bits set") }
        guard (8...30).contains(subnet.prefix) else {
            throw .badLease("leased subnet \(subnet): a node's subnet needs a prefix of 8 to 30")
        }
        guard lease.clusterRange.contains(subnet) else {
            throw .badLease("leased subnet \(subnet) lies outside the cluster range \(lease.clusterRange)")
        }
        if let mtu = lease.mtu, !MeshOptions.mtuRange.contains(mtu) {
            throw .badLease("lease MTU \(mtu): expected \(MeshOptions.mtuRange.lowerBound) to \(MeshOptions.mtuRange.upperBound)")
        }
        if let clash = underlay.first(where: { $0.network.overlaps(subnet) }) {
            throw .badLease(
                "leased subnet \(subnet) overlaps this node's own network \(clash) (address \(clash.addressText)); "
                    + "refusing it: give the manager a --cluster-cidr that none of the nodes' networks use")
        }
    }
}

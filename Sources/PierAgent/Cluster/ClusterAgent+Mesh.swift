import PierCluster

extension ClusterAgent {
    /// At start: the stored lease's masquerading and the last peer set, before the manager answers.
    func resumeMesh() async { await node.mesh.resume() }

    /// The subnet the manager leased this node, and how the cluster's traffic travels. A lease
    /// the node refuses (it overlaps the node's own network) changes nothing.
    func applyLease(_ lease: NodeLease) async {
        do {
            try await node.mesh.apply(lease: lease)
            logger.info("leased subnet \(lease.subnet) (data path \(lease.dataPath.rawValue))")
        } catch {
            logger.error("cannot take the lease of \(lease.subnet): \(error)")
        }
    }

    /// The node's mesh peers. Peers with bad entries are left out (logged); the rest are applied.
    func applyPeers(_ set: PeerSet) async {
        do { try await node.mesh.apply(peers: set) } catch {
            logger.error("cluster network: cannot apply the peer set of \(set.peers.count) peers: \(error)")
        }
    }
}

import PierCluster

extension ClusterAgent {
    /// The subnet the manager leased this node, and how the cluster's traffic travels.
    func applyLease(_ lease: NodeLease) async {
        logger.info("leased subnet \(lease.subnet) (data path \(lease.dataPath.rawValue))")
    }

    /// The node's mesh peers.
    func applyPeers(_ set: PeerSet) async {
        logger.debug("peer set with \(set.peers.count) peers received")
    }
}

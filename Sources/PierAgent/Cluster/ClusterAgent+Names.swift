import PierCluster

extension ClusterAgent {
    /// Every service's names and task addresses.
    func applyDirectory(_ directory: ServiceDirectory) async {
        logger.debug("service directory with \(directory.services.count) services received")
    }
}

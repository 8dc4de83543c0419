import Foundation
import PierCluster
import PierRuntime

// Service names on the node: the agent runs dnsmasq on the bridge's gateway and writes the
// manager's service directory into its record files, with the node's own tasks as they are
// now laid over it. The last directory is kept on disk and served while the manager is
// unreachable and after a restart.

extension ClusterAgent {
    /// The resolver and what it serves.
    struct Names {
        var resolver: NodeResolver?
        var supervisor: Task<Void, Never>?
        /// The manager's last directory (nil until one arrives or is read from disk).
        var directory: ServiceDirectory?
        /// The record files last written, so an unchanged state writes nothing.
        var written: [String: String]?
    }

    var directoryFile: URL { node.configuration.dataRoot.appendingPathComponent("dns/directory.json") }

    /// Starts the node's resolver when dnsmasq is installed, with the directory kept on disk;
    /// bridge containers started from now on use it.
    func startNames() async {
        let logger = self.logger
        let resolver = NodeResolver(
            configuration: .init(directory: node.configuration.dataRoot.appendingPathComponent("dns"), upstreams: node.configuration.dnsUpstreams),
            log: { logger.info("\($0)") })
        guard resolver.binary != nil else {
            logger.warning("dnsmasq not found (Debian: apt-get install dnsmasq-base): containers get the node's name servers and service names do not resolve")
            return
        }
        names.resolver = resolver
        names.directory = loadDirectory()
        let runtime = node.runtime
        runtime.servesNames.store(true, ordering: .relaxed)
        names.supervisor = Task { await resolver.supervise(address: { runtime.gatewayAddress }) }
        await refreshNames()
    }

    /// Stops the resolver; containers started afterwards get the node's name servers.
    func stopNames() {
        node.runtime.servesNames.store(false, ordering: .relaxed)
        names.supervisor?.cancel()
        names.resolver?.stop()
        names = Names()
    }

    /// Every service's names and task addresses, from the manager.
    func applyDirectory(_ directory: ServiceDirectory) async {
        guard directory != names.directory else { return }
        names.directory = directory
        saveDirectory(directory)
        await refreshNames()
    }

    /// Writes the records: the manager's directory with this node's own tasks as they are now
    /// (a task that stopped or turned unhealthy here leaves its names at once).
    func refreshNames() async {
        guard let resolver = names.resolver, let directory = names.directory else { return }
        var local: [String: [String]] = [:]
        do {
            // A task the manager is stopping leaves its names now, not when its container is gone.
            for task in try await node.containers.servingTasks(taskLabel: Self.taskLabel, serviceLabel: Self.serviceLabel)
            where assigned[task.taskID]?.desiredState == .running {
                local[task.serviceID, default: []].append(task.address)
            }
        } catch {
            logger.warning("cannot list containers for the service names: \(error)")
            return
        }
        let subnet = node.runtime.bridgeSubnet
        let files = directory.overlaying(local: local) { address in
            IPv4Network.parseAddress(address).map { subnet?.contains($0) == true } ?? false
        }.hostsFiles()
        guard files != names.written else { return }
        do {
            try resolver.write(files)
            names.written = files
        } catch {
            logger.warning("cannot write the service names: \(error)")
        }
    }

    private func saveDirectory(_ directory: ServiceDirectory) {
        do {
            try FileManager.default.createDirectory(at: directoryFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            try JSONEncoder().encode(directory).write(to: directoryFile, options: .atomic)
        } catch {
            logger.warning("cannot save the service directory: \(error)")
        }
    }

    private func loadDirectory() -> ServiceDirectory? {
        guard let data = try? Data(contentsOf: directoryFile) else { return nil }
        do { return try JSONDecoder().decode(ServiceDirectory.self, from: data) } catch {
            logger.warning("stored service directory \(directoryFile.path) set aside: \(error)")
            return nil
        }
    }
}

extension ContainerManager {
    /// Bridge addresses of running containers, by container id.
    func addresses() throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try database.all() where r.state == .running || r.state == .restarting { if let ip = r.ipAddress { out[r.id] = ip } }
        return out
    }

    /// This node's task containers that serve their service now (running, and healthy when they
    /// have a health check), with their addresses.
    func servingTasks(taskLabel: String, serviceLabel: String) throws -> [(taskID: String, serviceID: String, address: String)] {
        try database.all().compactMap { r in
            guard invalid[r.id] == nil, r.state == .running, let task = r.config.labels[taskLabel], let service = r.config.labels[serviceLabel],
                let ip = r.ipAddress, r.health == .none || r.health == .healthy
            else { return nil }
            return (task, service, ip)
        }
    }
}

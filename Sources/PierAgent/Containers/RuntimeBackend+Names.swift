import PierCluster
import PierSpec
import PierRuntime

extension RuntimeBackend {
    /// The bridge's gateway (the first address of its subnet), where the node's resolver listens.
    var gatewayAddress: String? {
        guard let subnet = try? IPv4Network(parsing: runtime.network.configuration.subnet) else { return nil }
        return IPv4Network.format(subnet.host(1))
    }

    /// The node's bridge subnet: the addresses of this node's containers.
    var bridgeSubnet: IPv4Network? { try? IPv4Network(parsing: runtime.network.configuration.subnet) }

    /// A bridge container's resolv.conf while the node runs its resolver: the resolver, and the
    /// zone of the container's stack (its `pier.stack.namespace` label) searched first. nil
    /// otherwise: host containers keep the node's, the others get the node's without loopback servers.
    func resolvConf(for request: ContainerSpec, network: NetworkMode) -> String? {
        guard network == .bridge, servesNames.load(ordering: .relaxed), let gateway = gatewayAddress else { return nil }
        let stack = request.labels[stackNamespaceLabel].flatMap { ObjectName.isValid($0, .label) ? $0 : nil }
        return ContainerResolvConf.render(nameserver: gateway, stack: stack)
    }
}

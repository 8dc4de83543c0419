import PierAccess

extension ContainerCreateRequest {
    /// What this container asks for beyond its own sandbox, for ``PrivilegeReview``: host
    /// network, bind mounts, devices, added capabilities. Services (their task's container),
    /// stacks and CoAP activations go through the same list.
    public var requestedPrivileges: [PrivilegeRequest] {
        var requests: [PrivilegeRequest] = []
        // Any network but the bridge, none or a named network of the cluster is the host's or
        // another container's.
        if let network, network == "host" || network.hasPrefix("container:") {
            requests.append(PrivilegeRequest(.hostNetwork, "network \"\(network)\""))
        }
        requests += volumes.map { PrivilegeRequest(.bindMount, "volume \($0)") }
        requests += devices.map { PrivilegeRequest(.device, "device \($0)") }
        requests += capAdd.map { PrivilegeRequest(.capability, "cap-add \($0)") }
        return requests
    }
}

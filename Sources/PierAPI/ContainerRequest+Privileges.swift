import PierSpec
import PierAccess

extension ContainerSpec {
    /// What this container asks for beyond its own sandbox, for ``PrivilegeReview``: privileged
    /// mode, host network, bind mounts (volumes and `type=bind` mounts), devices, added
    /// capabilities, a seccomp profile or AppArmor unconfined, the host user namespace. Services
    /// (their task's container), stacks and CoAP activations go through the same list.
    public var requestedPrivileges: [PrivilegeRequest] {
        var requests: [PrivilegeRequest] = []
        // Any network but the bridge, none or a named network of the cluster is the host's or
        // another container's.
        if let network, network == "host" || network.hasPrefix("container:") {
            requests.append(PrivilegeRequest(.hostNetwork, "network \"\(network)\""))
        }
        if privileged { requests.append(PrivilegeRequest(.privileged, "privileged")) }
        requests += volumes.map { PrivilegeRequest(.bindMount, "volume \($0)") }
        requests += mounts.filter { $0.split(separator: ",").contains { $0 == "type=bind" } }.map { PrivilegeRequest(.bindMount, "mount \($0)") }
        // A profile of the caller's replaces Pier's policy as much as "unconfined" drops it.
        requests += securityOpt.filter { $0.hasPrefix("seccomp=") || $0.hasPrefix("seccomp:") || $0 == "apparmor=unconfined" || $0 == "apparmor:unconfined" }
            .map { PrivilegeRequest(.unconfined, "security-opt \($0.count > 60 ? String($0.prefix(60)) + "…" : $0)") }
        if userns == "host" { requests.append(PrivilegeRequest(.hostUserNamespace, "userns host")) }
        requests += devices.map { PrivilegeRequest(.device, "device \($0)") }
        requests += capAdd.map { PrivilegeRequest(.capability, "cap-add \($0)") }
        return requests
    }
}

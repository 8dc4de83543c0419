import ArgumentParser
import PierAgent

/// The node's side of the cluster network, for `pier agent` and `pier up`.
struct MeshFlags: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The mesh interface to the other nodes (at most 15 characters).",
        discussion: "Default: pier-wg0 with the WireGuard data path, pier-vx0 with VXLAN. Nodes sharing one machine "
            + "(network namespaces) need one name each: wireguard-go's control socket is /var/run/wireguard/NAME.sock.",
        valueName: "name"))
    var meshInterface: String?

    @Option(help: ArgumentHelp("The UDP port the node's WireGuard interface listens on (1 to 65535).", valueName: "port"))
    var meshPort: Int = 51820

    @Option(help: ArgumentHelp(
        "The mesh MTU on this node, over the manager's --mesh-mtu and the underlay's (576 to 9000).",
        discussion: "Default: the manager's --mesh-mtu, else the MTU of the interface of the default route minus the tunnel's "
            + "overhead (80 for WireGuard, 50 for VXLAN). Set it for links with a smaller MTU than they say (cellular, PPPoE). "
            + "Containers on the node get it too.",
        valueName: "bytes"))
    var nodeMtu: Int?

    @Flag(help: ArgumentHelp(
        "Offer to relay between nodes behind NAT that cannot reach each other.",
        discussion: "The node needs an address the others can reach; it forwards between its WireGuard peers."))
    var relay = false

    var options: MeshOptions { MeshOptions(interface: meshInterface, port: meshPort, mtu: nodeMtu, relay: relay) }

    func validate() throws {
        do { try options.validate() } catch { throw ValidationError(error.description) }
    }
}

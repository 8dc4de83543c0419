import Foundation

// The wire and storage types of the cluster network: node subnets leased by the manager, the
// mesh between nodes (WireGuard, or VXLAN on a trusted LAN) and the service directory that the
// agents' resolvers serve. The manager computes peer sets and the directory from its state (pure
// functions over these types); the agents render files and interfaces from them.

/// How traffic between nodes travels.
public enum DataPath: String, Codable, Sendable, CaseIterable {
    /// Routed WireGuard (kernel module where present, `wireguard-go` otherwise): encrypted, crosses NAT.
    case wireguard
    /// VXLAN with static neighbour and forwarding entries (flannel's backend): unencrypted, one trusted LAN.
    case vxlan
}

/// The manager's network settings (`pier manager --cluster-cidr --node-prefix --data-path --mtu`).
public struct ClusterNetworkSettings: Codable, Sendable, Equatable {
    /// The range node subnets are leased from.
    public var range: IPv4Network
    /// The prefix length of a node's subnet (24: a /24 per node).
    public var nodePrefix: Int
    public var dataPath: DataPath
    /// The mesh MTU for every node; nil: each node's underlay MTU minus the tunnel's overhead.
    public var mtu: Int?
    /// How long a removed node's subnet stays reserved before another node may get it.
    public var releaseGraceSeconds: Double

    public static let defaultRange = try! IPv4Network(parsing: "10.89.0.0/16", requireNetwork: true)

    public init(range: IPv4Network = Self.defaultRange, nodePrefix: Int = 24, dataPath: DataPath = .wireguard, mtu: Int? = nil,
                releaseGraceSeconds: Double = 3600) {
        self.range = range; self.nodePrefix = nodePrefix; self.dataPath = dataPath; self.mtu = mtu
        self.releaseGraceSeconds = releaseGraceSeconds
    }
}

/// What an agent reports about its network side, in its hello (`NodeDescription.network`).
public struct NodeNetworkReport: Codable, Sendable, Equatable {
    /// The node's WireGuard public key (base64 of 32 bytes); made on the node, whose private key never leaves it.
    public var publicKey: String?
    /// The UDP port the node's WireGuard interface listens on.
    public var listenPort: Int?
    /// The node's own underlay IPv4 addresses (without the bridge's and the mesh's).
    public var addresses: [String]
    /// The MTU of the interface the node reaches the manager through.
    public var underlayMTU: Int?
    /// How the node can run WireGuard: `kernel`, `wireguard-go`, or nil when it cannot.
    public var wireguard: String?
    /// Whether the kernel has VXLAN.
    public var vxlan: Bool
    /// The subnet the node holds from an earlier lease (kept across restarts), so a manager that
    /// lost it can give it back.
    public var subnet: IPv4Network?
    /// The node offers to relay between peers that cannot reach each other (`pier agent --relay`).
    public var relay: Bool

    public init(publicKey: String? = nil, listenPort: Int? = nil, addresses: [String] = [], underlayMTU: Int? = nil, wireguard: String? = nil,
                vxlan: Bool = false, subnet: IPv4Network? = nil, relay: Bool = false) {
        self.publicKey = publicKey; self.listenPort = listenPort; self.addresses = addresses; self.underlayMTU = underlayMTU
        self.wireguard = wireguard; self.vxlan = vxlan; self.subnet = subnet; self.relay = relay
    }
}

/// How a node is reached from the others, as the manager decides it.
public enum NodeReachability: String, Codable, Sendable {
    /// Its endpoint is dialled directly.
    case direct
    /// Behind NAT: it dials out (keepalive); peers that are also behind NAT reach it through the relay.
    case nat
    /// No mesh (no key, no data path on the node).
    case none
}

/// A node's network as the manager stores it (`Node.network`) and `pier node inspect` shows it.
public struct NodeNetwork: Codable, Sendable, Equatable {
    /// The leased subnet; containers on the node get addresses from it.
    public var subnet: IPv4Network
    public var publicKey: String?
    /// `address:port` others dial, when the node is reachable directly.
    public var endpoint: String?
    public var reachability: NodeReachability
    /// The node relaying to it for peers behind NAT, when there is one.
    public var relayNodeID: String?
    public var mtu: Int?
    /// Why the node is not (fully) on the mesh: a report refused, no tunnel on the node, NAT under VXLAN.
    public var message: String?

    public init(subnet: IPv4Network, publicKey: String? = nil, endpoint: String? = nil, reachability: NodeReachability = .none,
                relayNodeID: String? = nil, mtu: Int? = nil, message: String? = nil) {
        self.subnet = subnet; self.publicKey = publicKey; self.endpoint = endpoint; self.reachability = reachability
        self.relayNodeID = relayNodeID; self.mtu = mtu; self.message = message
    }
}

/// In the welcome: the node's subnet and how the cluster's traffic travels.
public struct NodeLease: Codable, Sendable, Equatable {
    public var subnet: IPv4Network
    /// The whole cluster range: traffic to it keeps its source address; the rest is masqueraded.
    public var clusterRange: IPv4Network
    public var dataPath: DataPath
    /// The MTU of the mesh (and of the containers' interfaces).
    public var mtu: Int?

    public init(subnet: IPv4Network, clusterRange: IPv4Network, dataPath: DataPath, mtu: Int?) {
        self.subnet = subnet; self.clusterRange = clusterRange; self.dataPath = dataPath; self.mtu = mtu
    }
}

/// One peer of a node's mesh.
public struct MeshPeer: Codable, Sendable, Equatable {
    public var nodeID: String
    public var hostname: String
    public var publicKey: String?
    /// `address:port` to dial; nil for a peer behind NAT (it dials us).
    public var endpoint: String?
    /// Routed to this peer: its subnet, and for a relay the subnets of the peers reached through it.
    public var allowedIPs: [IPv4Network]
    /// Seconds between keepalives (a node behind NAT keeps its mapping open); nil: none.
    public var keepalive: Int?
    /// VXLAN: the peer's underlay address (the forwarding entry) and its VTEP MAC.
    public var underlayAddress: String?
    public var vtepMAC: String?

    public init(nodeID: String, hostname: String, publicKey: String? = nil, endpoint: String? = nil, allowedIPs: [IPv4Network],
                keepalive: Int? = nil, underlayAddress: String? = nil, vtepMAC: String? = nil) {
        self.nodeID = nodeID; self.hostname = hostname; self.publicKey = publicKey; self.endpoint = endpoint
        self.allowedIPs = allowedIPs; self.keepalive = keepalive; self.underlayAddress = underlayAddress; self.vtepMAC = vtepMAC
    }
}

/// A node's whole peer set (`ManagerMessage.peers`), sent on connect and whenever it changes.
public struct PeerSet: Codable, Sendable, Equatable {
    public var dataPath: DataPath
    public var clusterRange: IPv4Network
    public var mtu: Int?
    /// This node relays for others: forward between peers.
    public var relay: Bool
    public var peers: [MeshPeer]

    public init(dataPath: DataPath, clusterRange: IPv4Network, mtu: Int?, relay: Bool = false, peers: [MeshPeer]) {
        self.dataPath = dataPath; self.clusterRange = clusterRange; self.mtu = mtu; self.relay = relay; self.peers = peers
    }
}

/// How clients reach a service's tasks by name. Pier has no virtual IPs: `vip` is served as DNS round robin.
public enum EndpointMode: String, Codable, Sendable, CaseIterable {
    case vip, dnsrr
}

/// One service's names and its tasks' addresses.
public struct ServiceRecord: Codable, Sendable, Equatable {
    public var serviceID: String
    /// The service's name (`web`, or `shop_web` for service `web` of stack `shop`).
    public var name: String
    /// The stack it belongs to, if any.
    public var stack: String?
    /// Further names on the stack's default network (compose `networks: default: aliases:`).
    public var aliases: [String]
    /// The running (and, with a health check, healthy) tasks' addresses.
    public var addresses: [String]

    public init(serviceID: String, name: String, stack: String? = nil, aliases: [String] = [], addresses: [String]) {
        self.serviceID = serviceID; self.name = name; self.stack = stack; self.aliases = aliases; self.addresses = addresses
    }
}

/// Every service's records (`ManagerMessage.directory`), sent on connect and whenever it changes.
public struct ServiceDirectory: Codable, Sendable, Equatable {
    public var services: [ServiceRecord]
    public init(services: [ServiceRecord] = []) { self.services = services }
}

/// VXLAN addressing, as flannel does it: each node's VTEP has the first address of its subnet
/// (`10.89.3.0/32`) and a MAC derived from the subnet, so manager and agents agree without asking.
public enum VXLANAddressing {
    /// The VNI and UDP port of the cluster's VXLAN (flannel's defaults).
    public static let vni = 1
    public static let port = 8472
    /// Outer headers: 14 (Ethernet) + 20 (IPv4) + 8 (UDP) + 8 (VXLAN).
    public static let overhead = 50

    public static func vtepAddress(for subnet: IPv4Network) -> String { IPv4Network.format(subnet.first) }

    /// A locally administered unicast MAC: `02:50:` and the subnet's four address bytes.
    public static func vtepMAC(for subnet: IPv4Network) -> String {
        let a = subnet.first
        return String(format: "02:50:%02x:%02x:%02x:%02x", a >> 24, a >> 16 & 0xff, a >> 8 & 0xff, a & 0xff)
    }
}

/// WireGuard's overhead over IPv4: 20 (IPv4) + 8 (UDP) + 32 (WireGuard header and tag), rounded
/// up as wg-quick does to leave room for IPv6 underlays (80).
public enum WireGuardAddressing {
    public static let defaultPort = 51820
    public static let overhead = 80
    public static let keepaliveSeconds = 25
}

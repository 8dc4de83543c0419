import Foundation
import Testing
@testable import PierCluster

/// Peer sets: who dials whom, what each entry routes, and who relays, from the nodes' reports
/// and the addresses their sessions come from.
@Suite struct MeshPlannerTests {
    static func key(_ n: Int) -> String { Data(repeating: UInt8(n), count: 32).base64EncodedString() }

    /// Node `index` with subnet 10.89.index.0/24, reporting `addresses`, its session from `source`.
    static func node(
        _ index: Int, _ hostname: String, addresses: [String], source: String?, relay: Bool = false,
        colocated: Bool = false, state: NodeState = .ready, settings: ClusterNetworkSettings = ClusterNetworkSettings(),
        report: NodeNetworkReport? = nil
    ) -> Node {
        let report =
            report
            ?? NodeNetworkReport(
                publicKey: key(index), listenPort: 51820, addresses: addresses, underlayMTU: 1500,
                wireguard: "wireguard-go", vxlan: true, relay: relay)
        var node = Node(
            id: "id-\(hostname)",
            description: NodeDescription(
                hostname: hostname, platform: Platform(os: "linux", architecture: "arm64"), resources: .zero, network: report), state: state
        )
        node.address = source
        let subnet = IPv4Network(address: settings.range.first | UInt32(index) << (32 - settings.nodePrefix), prefix: settings.nodePrefix)
        node.network = MeshPlanner.network(report: report, sourceAddress: source, colocated: colocated, subnet: subnet, settings: settings)
        return node
    }

    static func direct(
        _ index: Int, _ hostname: String, relay: Bool = false, state: NodeState = .ready,
        settings: ClusterNetworkSettings = ClusterNetworkSettings()
    ) -> Node {
        node(index, hostname, addresses: ["192.0.2.\(index)"], source: "192.0.2.\(index)", relay: relay, state: state, settings: settings)
    }

    /// Behind a NAT router at 198.51.100.1: it reports its LAN address, the manager sees the router's.
    static func natted(_ index: Int, _ hostname: String, settings: ClusterNetworkSettings = ClusterNetworkSettings()) -> Node {
        node(index, hostname, addresses: ["192.168.\(index).10"], source: "198.51.100.1", settings: settings)
    }

    static func plan(_ nodes: [Node], colocated: String? = nil, settings: ClusterNetworkSettings = ClusterNetworkSettings())
        -> (relay: String?, sets: [String: PeerSet])
    {
        let relay = MeshPlanner.relay(among: nodes, colocatedNodeID: colocated, settings: settings)
        return (relay, MeshPlanner.peerSets(nodes: nodes, relayNodeID: relay, settings: settings))
    }

    /// 10.89.index.0/24.
    static func subnet(_ index: Int) -> IPv4Network { IPv4Network(address: 10 << 24 | 89 << 16 | UInt32(index) << 8, prefix: 24) }

    @Test func directNodesDialEachOthersEndpoints() throws {
        let nodes = [Self.direct(0, "a"), Self.direct(1, "b"), Self.direct(2, "c")]
        #expect(nodes.map { $0.network?.reachability } == [.direct, .direct, .direct])
        #expect(nodes[1].network?.endpoint == "192.0.2.1:51820")
        #expect(nodes[1].network?.mtu == 1500 - WireGuardAddressing.overhead)
        let (relay, sets) = Self.plan(nodes)
        #expect(relay == nil)
        let a = try #require(sets["id-a"])
        #expect(!a.relay && a.dataPath == .wireguard && a.mtu == 1420)
        #expect(
            a.peers == [
                MeshPeer(nodeID: "id-b", hostname: "b", publicKey: Self.key(1), endpoint: "192.0.2.1:51820", allowedIPs: [Self.subnet(1)]),
                MeshPeer(nodeID: "id-c", hostname: "c", publicKey: Self.key(2), endpoint: "192.0.2.2:51820", allowedIPs: [Self.subnet(2)]),
            ])
        #expect(sets.count == 3 && sets.values.allSatisfy { $0.peers.count == 2 })
    }

    @Test func aNATdNodeDialsOutWithKeepaliveAndIsWaitedFor() throws {
        let nodes = [Self.direct(0, "a"), Self.direct(1, "b"), Self.natted(2, "c")]
        let c = try #require(nodes[2].network)
        #expect(c.reachability == .nat && c.endpoint == nil)
        #expect(c.message?.contains("its session comes from 198.51.100.1, not one of its addresses (192.168.2.10)") == true)
        let (_, sets) = Self.plan(nodes)
        #expect(
            sets["id-c"]?.peers == [
                MeshPeer(
                    nodeID: "id-a", hostname: "a", publicKey: Self.key(0), endpoint: "192.0.2.0:51820", allowedIPs: [Self.subnet(0)],
                    keepalive: WireGuardAddressing.keepaliveSeconds),
                MeshPeer(
                    nodeID: "id-b", hostname: "b", publicKey: Self.key(1), endpoint: "192.0.2.1:51820", allowedIPs: [Self.subnet(1)],
                    keepalive: WireGuardAddressing.keepaliveSeconds),
            ])
        // The direct nodes route its subnet to it without an endpoint: it dials them.
        let toC = try #require(sets["id-a"]?.peers.first { $0.nodeID == "id-c" })
        #expect(toC.endpoint == nil && toC.keepalive == nil && toC.allowedIPs == [Self.subnet(2)] && toC.publicKey == Self.key(2))
    }

    @Test func twoNATdNodesReachEachOtherThroughTheRelayOnly() throws {
        let nodes = [Self.direct(0, "a"), Self.direct(1, "r", relay: true), Self.natted(2, "c"), Self.natted(3, "d")]
        let (relay, sets) = Self.plan(nodes)
        #expect(relay == "id-r")
        let c = try #require(sets["id-c"])
        #expect(!c.relay)
        #expect(c.peers.map(\.nodeID) == ["id-a", "id-r"])
        // The relay's entry routes its own subnet and the NAT'd peer's; a's subnet stays on a's entry.
        #expect(c.peers[1].allowedIPs == [Self.subnet(1), Self.subnet(3)] && c.peers[1].endpoint == "192.0.2.1:51820")
        #expect(c.peers[0].allowedIPs == [Self.subnet(0)])
        #expect(sets["id-d"]?.peers.first { $0.nodeID == "id-r" }?.allowedIPs == [Self.subnet(1), Self.subnet(2)])
        let r = try #require(sets["id-r"])
        #expect(r.relay)
        #expect(r.peers.filter { $0.endpoint == nil }.map(\.nodeID) == ["id-c", "id-d"])
        // A direct node is not a relay and routes only each node's own subnet.
        #expect(sets["id-a"]?.relay == false && sets["id-a"]?.peers.allSatisfy { $0.allowedIPs.count == 1 } == true)
    }

    @Test func theRelayIsAReadyVolunteerElseTheManagersOwnNodeElseNone() throws {
        let volunteers = [Self.direct(0, "a", relay: true, state: .down), Self.direct(1, "b", relay: true), Self.direct(2, "m")]
        #expect(Self.plan(volunteers, colocated: "id-m").relay == "id-b")
        #expect(Self.plan([volunteers[0], volunteers[2]], colocated: "id-m").relay == "id-a")
        // The manager's own node (`pier up`): its session has no address; it is reached at its first address.
        let local = Self.node(4, "m", addresses: ["192.0.2.4", "10.0.0.4"], source: nil, colocated: true)
        #expect(local.network?.reachability == .direct && local.network?.endpoint == "192.0.2.4:51820")
        let nodes = [Self.direct(0, "a"), local, Self.natted(2, "c"), Self.natted(3, "d")]
        #expect(Self.plan(nodes, colocated: "id-m").relay == "id-m")
        // A NAT'd volunteer cannot relay.
        var nattedVolunteer = Self.natted(5, "n")
        nattedVolunteer.description.network?.relay = true
        #expect(Self.plan([nattedVolunteer, Self.natted(2, "c")]).relay == nil)
    }

    @Test func withoutARelayNATdNodesDoNotGetEachOther() throws {
        let nodes = [Self.direct(0, "a"), Self.natted(2, "c"), Self.natted(3, "d")]
        let (relay, sets) = Self.plan(nodes)
        #expect(relay == nil)
        #expect(sets["id-c"]?.peers.map(\.nodeID) == ["id-a"])
        #expect(sets["id-d"]?.peers.map(\.nodeID) == ["id-a"])
        #expect(sets["id-a"]?.peers.map(\.nodeID) == ["id-c", "id-d"])
    }

    @Test func vxlanPeersGetUnderlayAddressesAndVTEPMACsAndNATdNodesNone() throws {
        let settings = ClusterNetworkSettings(dataPath: .vxlan)
        let nodes = [
            Self.direct(0, "a", settings: settings), Self.direct(1, "b", relay: true, settings: settings),
            Self.natted(2, "c", settings: settings),
        ]
        #expect(nodes[0].network?.mtu == 1500 - VXLANAddressing.overhead)
        #expect(nodes[0].network?.publicKey == nil && nodes[0].network?.endpoint == "192.0.2.0")
        #expect(nodes[2].network?.reachability == .nat && nodes[2].network?.message?.contains("VXLAN cannot reach it") == true)
        let (relay, sets) = Self.plan(nodes, settings: settings)
        #expect(relay == nil)
        #expect(sets["id-a"]?.dataPath == .vxlan)
        #expect(
            sets["id-a"]?.peers == [
                MeshPeer(
                    nodeID: "id-b", hostname: "b", allowedIPs: [Self.subnet(1)], underlayAddress: "192.0.2.1",
                    vtepMAC: VXLANAddressing.vtepMAC(for: Self.subnet(1)))
            ])
        #expect(VXLANAddressing.vtepMAC(for: Self.subnet(1)) == "02:50:0a:59:01:00")
        #expect(sets["id-c"]?.peers == [])
        // A kernel without VXLAN: not on the mesh.
        let noVXLAN = Self.node(
            3, "x", addresses: ["192.0.2.3"], source: "192.0.2.3", settings: settings,
            report: NodeNetworkReport(addresses: ["192.0.2.3"], vxlan: false))
        #expect(noVXLAN.network?.reachability == NodeReachability.none && noVXLAN.network?.message?.contains("no VXLAN") == true)
    }

    @Test func aGarbageReportKeepsTheNodeOffTheMeshAndLeavesOthersAlone() throws {
        let good = [Self.direct(0, "a"), Self.direct(1, "b")]
        let before = Self.plan(good).sets
        let reports = [
            NodeNetworkReport(publicKey: "bm90IGEga2V5", listenPort: 51820, addresses: ["192.0.2.9"], wireguard: "kernel"),
            NodeNetworkReport(publicKey: Self.key(9), listenPort: 70000, addresses: ["192.0.2.9"], wireguard: "kernel"),
            NodeNetworkReport(publicKey: Self.key(9), listenPort: 51820, addresses: ["192.0.2.999"], wireguard: "kernel"),
            NodeNetworkReport(publicKey: Self.key(9), listenPort: 51820, addresses: ["127.0.0.1"], wireguard: "kernel"),
            NodeNetworkReport(
                publicKey: Self.key(9), listenPort: 51820, addresses: Array(repeating: "192.0.2.9", count: 65), wireguard: "kernel"),
            NodeNetworkReport(publicKey: Self.key(9), listenPort: 51820, addresses: ["192.0.2.9"], underlayMTU: -1, wireguard: "kernel"),
        ]
        let fields = [
            "public key \"bm90IGEga2V5\" is not base64 of 32 bytes", "listen port 70000 is outside 1…65535",
            "address \"192.0.2.999\" is not a unicast IPv4 address", "address \"127.0.0.1\" is not",
            "65 addresses reported, at most 64", "underlay MTU -1 is outside",
        ]
        for (report, field) in zip(reports, fields) {
            let bad = Self.node(9, "x", addresses: [], source: "192.0.2.9", report: report)
            let network = try #require(bad.network)
            #expect(network.reachability == NodeReachability.none && network.publicKey == nil && network.endpoint == nil)
            #expect(network.message?.contains(field) == true, "\(network.message ?? "")")
            let sets = Self.plan(good + [bad]).sets
            #expect(sets["id-a"] == before["id-a"] && sets["id-b"] == before["id-b"])
            #expect(sets["id-x"]?.peers == [])
        }
        // No report at all (an agent without a network side): a subnet, no mesh.
        var none = Self.node(9, "x", addresses: ["192.0.2.9"], source: "192.0.2.9")
        none.description.network = nil
        none.network = MeshPlanner.network(
            report: nil, sourceAddress: "192.0.2.9", colocated: false, subnet: Self.subnet(9), settings: ClusterNetworkSettings())
        #expect(none.network?.reachability == NodeReachability.none && none.network?.message?.contains("reports no network side") == true)
        #expect(Self.plan(good + [none]).sets["id-a"] == before["id-a"])
    }

    @Test func theMeshMTUIsTheSettingOrTheUnderlayLessTheOverhead() {
        let report = NodeNetworkReport(
            publicKey: Self.key(1), addresses: ["192.0.2.1"], underlayMTU: 9000, wireguard: "kernel", vxlan: true)
        func mtu(_ settings: ClusterNetworkSettings, _ report: NodeNetworkReport) -> Int? {
            MeshPlanner.network(report: report, sourceAddress: "192.0.2.1", colocated: false, subnet: Self.subnet(1), settings: settings)
                .mtu
        }
        #expect(mtu(ClusterNetworkSettings(), report) == 8920)
        #expect(mtu(ClusterNetworkSettings(dataPath: .vxlan), report) == 8950)
        #expect(mtu(ClusterNetworkSettings(mtu: 1300), report) == 1300)
        var unknown = report
        unknown.underlayMTU = nil
        #expect(mtu(ClusterNetworkSettings(), unknown) == nil)
        // No listen port reported: WireGuard's default.
        #expect(
            MeshPlanner.network(
                report: report, sourceAddress: "::ffff:192.0.2.1", colocated: false, subnet: Self.subnet(1),
                settings: ClusterNetworkSettings()
            ).endpoint == "192.0.2.1:51820")
    }
}

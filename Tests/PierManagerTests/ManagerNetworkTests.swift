import Foundation
import PierCluster
import Synchronization
import Testing
@testable import PierManager

/// The manager's side of the cluster network, through its session API: subnets leased at the
/// first hello and kept across restarts of the manager on the same store, released with a grace
/// period at `node rm`, reports that cannot be used, peer sets, and settings that cannot change.
@Suite struct ManagerNetworkTests {
    static func makeManager(_ dir: URL, network: ClusterNetworkSettings = ClusterNetworkSettings(), grace: Double = 120) async throws
        -> Manager
    {
        var configuration = Manager.Configuration()
        configuration.heartbeatSeconds = 0.2
        configuration.heartbeatGrace = grace
        configuration.network = network
        return try await Manager(store: try SQLiteStateStore(path: dir.appendingPathComponent("manager.db")), configuration: configuration)
        { ref in
            throw ManagerError.notFound("no image \(ref)")
        }
    }

    static func key(_ n: Int) -> String { Data(repeating: UInt8(n), count: 32).base64EncodedString() }

    /// A report of a node at 192.0.2.`n` (its session comes from there unless said otherwise).
    static func report(_ n: Int, key: String? = nil, subnet: IPv4Network? = nil, relay: Bool = false) -> NodeNetworkReport {
        NodeNetworkReport(
            publicKey: key ?? Self.key(n), listenPort: 51820, addresses: ["192.0.2.\(n)"], underlayMTU: 1500,
            wireguard: "kernel", vxlan: true, subnet: subnet, relay: relay)
    }

    /// A simulated agent that records the welcome and the peer sets it is sent.
    final class Agent: Sendable {
        let nodeID: String
        let welcomes = Mutex<[Welcome]>([])
        let peers = Mutex<[PeerSet]>([])
        init(_ nodeID: String) { self.nodeID = nodeID }
        var lease: NodeLease? { welcomes.withLock { $0.last?.network } }
        var lastPeers: PeerSet? { peers.withLock { $0.last } }

        func connect(_ manager: Manager, report: NodeNetworkReport?, from address: String?) async throws {
            _ = try await manager.attach(
                nodeID: nodeID, address: address,
                hello: AgentHello(
                    description: NodeDescription(
                        hostname: nodeID, platform: Platform(os: "linux", architecture: "amd64"),
                        resources: Resources(cpus: 1, memoryBytes: 1 << 30),
                        network: report), reports: []),
                send: { [self] message in
                    switch message {
                    case .welcome(let w): self.welcomes.withLock { $0.append(w) }
                    case .peers(let p): self.peers.withLock { $0.append(p) }
                    default: break
                    }
                })
        }
    }

    static func join(_ manager: Manager, _ id: String, _ n: Int, report: NodeNetworkReport? = nil, from: String? = nil) async throws
        -> Agent
    {
        _ = try await manager.addNode(id: id, role: .worker, hostname: id)
        let agent = Agent(id)
        try await agent.connect(manager, report: report ?? Self.report(n), from: from ?? "192.0.2.\(n)")
        return agent
    }

    /// 10.89.n.0/24.
    static func subnet(_ n: Int) -> IPv4Network { IPv4Network(address: 10 << 24 | 89 << 16 | UInt32(n) << 8, prefix: 24) }

    @Test func theLeaseIsStoredAndSentInTheWelcomeAndPeersFollow() async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await Self.makeManager(dir)
            let a = try await Self.join(manager, "node-a", 1)
            let lease = try #require(a.lease)
            #expect(
                lease
                    == NodeLease(subnet: Self.subnet(0), clusterRange: ClusterNetworkSettings.defaultRange, dataPath: .wireguard, mtu: 1420)
            )
            #expect(try await manager.lookupNode("node-a").network?.subnet == Self.subnet(0))
            #expect(a.lastPeers == PeerSet(dataPath: .wireguard, clusterRange: ClusterNetworkSettings.defaultRange, mtu: 1420, peers: []))

            let b = try await Self.join(manager, "node-b", 2)
            #expect(b.lease?.subnet == Self.subnet(1))
            // a is sent its new set (b joined); b gets a.
            #expect(a.lastPeers?.peers.map(\.nodeID) == ["node-b"])
            #expect(a.lastPeers?.peers.first?.endpoint == "192.0.2.2:51820")
            #expect(b.lastPeers?.peers.map(\.nodeID) == ["node-a"])
            // The welcome comes before the peers, and an unchanged set is not sent again.
            let sentToA = a.peers.withLock { $0.count }
            try await a.connect(manager, report: Self.report(1), from: "192.0.2.1")
            #expect(a.welcomes.withLock { $0.count } == 2 && a.lease?.subnet == Self.subnet(0))
            #expect(a.peers.withLock { $0.count } == sentToA + 1)  // a new session gets its set once
            #expect(b.peers.withLock { $0.count } == 1)

            // Stored: a manager restarted on the same database gives the same subnets, in any order.
            let stored = try await SQLiteStateStore(path: dir.appendingPathComponent("manager.db")).load()
            #expect(stored.nodes.first { $0.id == "node-b" }?.network?.subnet == Self.subnet(1))
            let settings = try JSONDecoder().decode(
                ClusterNetworkSettings.self, from: Data(try #require(stored.meta[Manager.networkSettingsKey]).utf8))
            #expect(settings == ClusterNetworkSettings())
        }
    }

    @Test func aRestartedManagerGivesEveryNodeItsSubnetBack() async throws {
        try await withTemporaryDirectory { dir in
            do {
                let manager = try await Self.makeManager(dir)
                _ = try await Self.join(manager, "node-a", 1)
                _ = try await Self.join(manager, "node-b", 2)
            }
            let manager = try await Self.makeManager(dir)
            let b = Agent("node-b"), a = Agent("node-a")
            try await b.connect(manager, report: Self.report(2), from: "192.0.2.2")
            try await a.connect(manager, report: Self.report(1), from: "192.0.2.1")
            #expect(a.lease?.subnet == Self.subnet(0) && b.lease?.subnet == Self.subnet(1))
        }
        // A manager that lost its state gives a node back the subnet it reports holding.
        try await withTemporaryDirectory { dir in
            let manager = try await Self.makeManager(dir)
            let held = try IPv4Network(parsing: "10.89.42.0/24")
            let a = try await Self.join(manager, "node-a", 1, report: Self.report(1, subnet: held))
            #expect(a.lease?.subnet == held)
            let b = try await Self.join(manager, "node-b", 2, report: Self.report(2, subnet: held))
            #expect(b.lease?.subnet == Self.subnet(0))
        }
    }

    @Test func aRemovedNodesSubnetWaitsOutTheGracePeriod() async throws {
        try await withTemporaryDirectory { dir in
            do {
                let manager = try await Self.makeManager(dir)
                _ = try await Self.join(manager, "node-a", 1)
                _ = try await Self.join(manager, "node-b", 2)
                try await manager.removeNode("node-a", force: true)
                #expect(await manager.metaValue(Manager.releasedSubnetPrefix + Self.subnet(0).description) != nil)
                // The next node does not get it, even when it reports holding it.
                let c = try await Self.join(manager, "node-c", 3, report: Self.report(3, subnet: Self.subnet(0)))
                #expect(c.lease?.subnet == Self.subnet(2))
                // b's peers no longer include a.
                #expect(await manager.peerSet(for: "node-b")?.peers.map(\.nodeID) == ["node-c"])
            }
            // Restarted with a grace period of zero (only the range and prefix are fixed): it is free.
            let manager = try await Self.makeManager(dir, network: ClusterNetworkSettings(releaseGraceSeconds: 0))
            let d = try await Self.join(manager, "node-d", 4)
            #expect(d.lease?.subnet == Self.subnet(0))
            #expect(await manager.metaValue(Manager.releasedSubnetPrefix + Self.subnet(0).description) == nil)
        }
    }

    @Test func aGarbageReportGetsASubnetAndTasksButNoMeshAndOthersAreNotDisturbed() async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await Self.makeManager(dir)
            let a = try await Self.join(manager, "node-a", 1)
            let b = try await Self.join(manager, "node-b", 2)
            let before = (a.lastPeers, b.lastPeers, a.peers.withLock { $0.count }, b.peers.withLock { $0.count })
            let x = try await Self.join(manager, "node-x", 9, report: Self.report(9, key: "garbage\u{0}key"))
            let node = try await manager.lookupNode("node-x")
            #expect(node.state == .ready)
            #expect(x.lease?.subnet == Self.subnet(2))
            #expect(node.network?.reachability == NodeReachability.none)
            #expect(node.network?.message?.contains("public key \"garbage?key\" is not base64 of 32 bytes") == true)
            #expect(x.lastPeers?.peers == [])
            #expect(a.lastPeers == before.0 && b.lastPeers == before.1)
            #expect(a.peers.withLock { $0.count } == before.2 && b.peers.withLock { $0.count } == before.3)
        }
    }

    @Test func natIsToldFromTheSessionsSourceAndTheManagersOwnNodeRelays() async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await Self.makeManager(dir)
            // `pier up`'s own agent: in process, no address.
            let localID = try await manager.localNodeID(hostname: "gw")
            let local = Agent(localID)
            try await local.connect(manager, report: Self.report(1), from: nil)
            let c = try await Self.join(manager, "node-c", 3, from: "198.51.100.1")
            let d = try await Self.join(manager, "node-d", 4, from: "198.51.100.1")
            #expect(try await manager.lookupNode(localID).network?.reachability == .direct)
            #expect(try await manager.lookupNode("node-c").network?.reachability == .nat)
            #expect(try await manager.lookupNode("node-c").network?.relayNodeID == localID)
            #expect(local.lastPeers?.relay == true)
            let viaRelay = try #require(c.lastPeers?.peers)
            #expect(viaRelay.map(\.nodeID) == [localID])
            #expect(viaRelay.first?.allowedIPs == [Self.subnet(0), Self.subnet(2)] && viaRelay.first?.keepalive == 25)
            #expect(d.lastPeers?.peers.first?.allowedIPs == [Self.subnet(0), Self.subnet(1)])
        }
    }

    /// The reconcile loop sends new sets when the relay goes down: NAT'd nodes move to the next
    /// volunteer, and `pier node ls` names it.
    @Test func whenTheRelayGoesDownNATdNodesMoveToAnotherVolunteer() async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await Self.makeManager(dir, grace: 1.5)
            let loop = Task { await manager.run() }
            defer { loop.cancel() }
            _ = try await Self.join(manager, "relay-1", 1, report: Self.report(1, relay: true))
            _ = try await Self.join(manager, "relay-2", 2, report: Self.report(2, relay: true))
            let c = try await Self.join(manager, "node-c", 3, from: "198.51.100.1")
            let d = try await Self.join(manager, "node-d", 4, from: "198.51.100.1")
            func relayEntry(_ agent: Agent) -> MeshPeer? { agent.lastPeers?.peers.first { $0.allowedIPs.count > 1 } }
            #expect(relayEntry(c)?.nodeID == "relay-1" && relayEntry(c)?.allowedIPs == [Self.subnet(0), Self.subnet(3)])
            #expect(relayEntry(d)?.nodeID == "relay-1")
            // Everyone but relay-1 keeps sending heartbeats.
            let beats = Task {
                while !Task.isCancelled {
                    for id in ["relay-2", "node-c", "node-d"] { try? await manager.receive(nodeID: id, .heartbeat) }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            defer { beats.cancel() }
            try await ManagerTests.eventually("node-c moves to relay-2") { relayEntry(c)?.nodeID == "relay-2" }
            #expect(relayEntry(c)?.allowedIPs == [Self.subnet(1), Self.subnet(3)])
            try await ManagerTests.eventually("node-d moves to relay-2") { relayEntry(d)?.nodeID == "relay-2" }
            #expect(try await manager.lookupNode("node-c").network?.relayNodeID == "relay-2")
        }
    }

    @Test func settingsOtherThanTheStoredOnesAreRefused() async throws {
        try await withTemporaryDirectory { dir in
            _ = try await Self.makeManager(dir)
            let other = ClusterNetworkSettings(range: try IPv4Network(parsing: "10.90.0.0/16"))
            do {
                _ = try await Self.makeManager(dir, network: other)
                Issue.record("a manager started with another range")
            } catch {
                #expect("\(error)".contains("set up with --cluster-cidr 10.89.0.0/16 --node-prefix 24"))
                #expect("\(error)".contains("cannot change to --cluster-cidr 10.90.0.0/16"))
            }
            await #expect(throws: ClusterNetworkError.self) {
                _ = try await Self.makeManager(dir, network: ClusterNetworkSettings(nodePrefix: 26))
            }
            // Bad settings are refused before anything is stored.
            await #expect(throws: ClusterNetworkError.self) {
                _ = try await Self.makeManager(dir, network: ClusterNetworkSettings(nodePrefix: 16))
            }
            // The data path and MTU may change; they are stored and apply to every node.
            let vxlan = try await Self.makeManager(dir, network: ClusterNetworkSettings(dataPath: .vxlan, mtu: 1400))
            let a = try await Self.join(vxlan, "node-a", 1)
            #expect(a.lease?.dataPath == .vxlan && a.lease?.mtu == 1400)
            let restarted = try await Self.makeManager(dir, network: ClusterNetworkSettings(dataPath: .vxlan, mtu: 1400))
            #expect(await restarted.metaValue(Manager.networkSettingsKey)?.contains("vxlan") == true)
        }
    }

    @Test func anExhaustedRangeRefusesTheSessionAndSaysWhy() async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await Self.makeManager(dir, network: ClusterNetworkSettings(range: try IPv4Network(parsing: "10.89.0.0/23")))
            _ = try await Self.join(manager, "node-a", 1)
            _ = try await Self.join(manager, "node-b", 2)
            await #expect { _ = try await Self.join(manager, "node-c", 3) } throws: { error in
                "\(error)".contains("holds 2 node subnets of /24 and none is free")
            }
            let c = try await manager.lookupNode("node-c")
            #expect(c.network == nil && c.state != .ready && c.message?.contains("no subnet") == true)
        }
    }
}

import PierTestSupport
import Foundation
import Testing

/// Traffic between containers on different nodes over the mesh: one manager in the root namespace,
/// node-a on the LAN (the relay), node-b and node-c each behind its own NAT router (see `MeshCluster`).
/// Real `pier manager` and `pier agent --join` processes, wireguard-go, busybox containers.
@Suite(.serialized, .integrationHost, .meshBuilt, .timeLimit(.minutes(10)))
struct MeshClusterTests {
    /// One service per node; returns each node's container.
    private func containers(_ cluster: MeshCluster) throws -> [String: (id: String, endpoint: MeshCluster.Endpoint)] {
        var out: [String: (id: String, endpoint: MeshCluster.Endpoint)] = [:]
        for a in cluster.agents { try cluster.runService("web-\(a.name.suffix(1))", on: a) }
        for a in cluster.agents { out[a.name] = try cluster.endpoint("web-\(a.name.suffix(1))", on: a) }
        return out
    }

    /// Both directions of every pair: LAN ↔ NAT'd, and NAT'd ↔ NAT'd through the relay.
    private func transferBetweenEveryPair(_ cluster: MeshCluster, _ c: [String: (id: String, endpoint: MeshCluster.Endpoint)],
                                          sourceLocation: SourceLocation = #_sourceLocation) {
        let names = cluster.agents.map(\.name)
        for from in names {
            for to in names where to != from {
                guard let s = c[from]?.endpoint, let t = c[to]?.endpoint else {
                    Issue.record("no container on \(from) or \(to)", sourceLocation: sourceLocation)
                    continue
                }
                do { try cluster.transfer(s, t) } catch { Issue.record("\(from) → \(to): \(error)", sourceLocation: sourceLocation) }
            }
        }
    }

    @Test func tenMegabytesArriveIntactBetweenContainersOnEveryPairOfNodes() throws {
        let cluster = try MeshCluster.start()
        defer { cluster.tearDown() }
        let c = try containers(cluster)
        // Addresses from each node's own subnet: no two containers share one.
        #expect(Set(c.values.map(\.endpoint.address)).count == 3, "container addresses: \(c.mapValues(\.endpoint.address))")
        transferBetweenEveryPair(cluster, c)
    }

    /// The unencrypted data path for one trusted LAN, through the same manager and agents: each
    /// node's mesh interface is a VXLAN device with one static forwarding entry per peer.
    @Test func vxlanCarriesTenMegabytesBetweenEveryPairOfNodesOnOneLAN() throws {
        let cluster = try MeshCluster.start(dataPath: "vxlan", natted: false)
        defer { cluster.tearDown() }
        let c = try containers(cluster)
        #expect(Set(c.values.map(\.endpoint.address)).count == 3, "container addresses: \(c.mapValues(\.endpoint.address))")
        for a in cluster.agents {
            let link = try cluster.topology.run(in: a.node, ["/usr/sbin/ip", "-d", "link", "show", a.meshInterface]).stdout
            #expect(link.contains("vxlan id"), "\(a.name)'s mesh interface: \(link)")
            let fdb = try cluster.topology.run(in: a.node, ["/usr/sbin/bridge", "fdb", "show", "dev", a.meshInterface]).stdout
            let peers = fdb.split(separator: "\n").filter { $0.contains("dst 10.217.") }
            #expect(peers.count == 2, "\(a.name)'s forwarding entries: \(fdb)")
            #expect(!FileManager.default.fileExists(atPath: "/var/run/wireguard/\(a.meshInterface).sock"), "wireguard-go runs on \(a.name)")
        }
        transferBetweenEveryPair(cluster, c)
    }

    @Test func trafficKeepsFlowingWithTheManagerKilled() throws {
        let cluster = try MeshCluster.start()
        defer { cluster.tearDown() }
        let c = try containers(cluster)
        cluster.killManager()
        transferBetweenEveryPair(cluster, c)
        // And it stays up while the agents find the manager gone and keep retrying: every probe answers.
        let a = try #require(c["node-a"]?.endpoint), b = try #require(c["node-b"]?.endpoint), nc = try #require(c["node-c"]?.endpoint)
        let until = Date().addingTimeInterval(10)
        var failures: [String] = []
        while Date() < until {
            for (s, t) in [(b, a), (b, nc), (nc, a)] where !cluster.ping(s, t) { failures.append("\(s) → \(t)") }
            usleep(500_000)
        }
        #expect(failures.isEmpty, "pings lost with the manager down: \(failures)")
    }

    /// The data plane alone: the node-lost grace is longer than the outage, so the manager does
    /// not move node-b's task (an outage longer than the grace reschedules it, as Swarm does).
    @Test func aRouterLinkDownThirtySecondsThenUpResumesTrafficWithoutRestarts() throws {
        let cluster = try MeshCluster.start(heartbeatGrace: 90)
        defer { cluster.tearDown() }
        let c = try containers(cluster)
        let b = try cluster.agent("node-b")
        let agentPID = try #require(b.process?.processIdentifier)
        let src = try #require(c["node-b"]?.endpoint), dst = try #require(c["node-a"]?.endpoint)
        #expect(cluster.ping(src, dst))

        try cluster.topology.setLANLink(b.node, up: false)
        #expect(!cluster.ping(src, dst), "the link is down: nothing should get through")
        let downUntil = Date().addingTimeInterval(30)
        while Date() < downUntil { usleep(200_000) }
        try cluster.topology.setLANLink(b.node, up: true)

        #expect(waitUntil(60, every: 0.2) { cluster.ping(src, dst) }, "no reply from \(dst) within 60 s of the link's return")
        do { try cluster.transfer(src, dst) } catch { Issue.record("after the flap: \(error)") }
        // Nothing restarted: the same agent process, the same containers.
        #expect(b.process?.processIdentifier == agentPID && b.process?.isRunning == true)
        for a in cluster.agents {
            let now = try cluster.endpoint("web-\(a.name.suffix(1))", on: a)
            #expect(now.id == c[a.name]?.id, "the container on \(a.name) was replaced: \((try? cluster.pier(["service", "ps", "web-\(a.name.suffix(1))", "--no-trunc"]).stdout) ?? "")")
        }
    }

    @Test func aRestartedAgentKeepsItsSubnetAndKey() throws {
        let cluster = try MeshCluster.start()
        defer { cluster.tearDown() }
        let c = try containers(cluster)
        let node = try cluster.agent("node-c")
        let before = try cluster.nodeNetwork("node-c")
        let subnet = try #require(before["subnet"].map { "\($0)" }), key = try #require(before["publicKey"] as? String)
        // The key the node's interface holds is the one the manager publishes.
        let shown = try cluster.topology.run(in: node.node, ["/usr/bin/wg", "show", node.meshInterface, "public-key"])
        #expect(shown.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == key, "wg show: \(shown.stdout) \(shown.stderr)")

        cluster.kill9(node)
        try cluster.startAgent(node, join: false)
        try cluster.waitForReadyNodes(3)
        let after = try cluster.nodeNetwork("node-c")
        #expect(after["subnet"].map { "\($0)" } == subnet)
        #expect(after["publicKey"] as? String == key)
        let src = try #require(c["node-c"]?.endpoint), dst = try #require(c["node-a"]?.endpoint)
        #expect(waitUntil(30, every: 0.2) { cluster.ping(src, dst) }, "no traffic from node-c's container after its agent restarted")
        do { try cluster.transfer(src, dst) } catch { Issue.record("after the restart: \(error)") }
    }
}

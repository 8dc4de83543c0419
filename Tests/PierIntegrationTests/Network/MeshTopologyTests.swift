import PierTestSupport
import Foundation
import Testing

/// The test topology itself (no Pier): what the mesh tests rely on about NAT holds, and nothing is left behind.
@Suite(.serialized, .integrationHost, .timeLimit(.minutes(5)))
struct MeshTopologyTests {
    @Test func natRoutersLetNodesOutNotInAndTeardownRemovesEverything() throws {
        let topology = try MeshTopology.create()
        var tornDown = false
        defer { if !tornDown { topology.tearDown() } }
        let a = try topology.node("node-a"), b = try topology.node("node-b"), c = try topology.node("node-c")
        #expect(!a.behindNAT && b.behindNAT && c.behindNAT)

        // Out: both NAT'd nodes reach the LAN node and the root namespace on the LAN.
        for n in [b, c] {
            #expect(try topology.ping(from: n, a.address), "\(n.name) should reach \(a.name) at \(a.address)")
            #expect(try topology.ping(from: n, topology.lanGateway), "\(n.name) should reach the LAN at \(topology.lanGateway)")
        }
        #expect(try topology.ping(from: a, try #require(b.routerAddress)), "the LAN node reaches a router's LAN side")

        // In: the LAN node has no route to the private addresses; given one through the router,
        // the router still drops what the LAN starts.
        #expect(try !topology.ping(from: a, b.address))
        let route = try topology.run(in: a, ["/usr/sbin/ip", "route", "add", MeshTopology.privatePrefix + ".0/24", "via", try #require(b.routerAddress)])
        #expect(route.status == 0, "ip route add in \(a.name): \(route.stderr)")
        #expect(try !topology.ping(from: a, b.address), "the router of \(b.name) should drop pings the LAN starts")

        // UDP from a NAT'd node arrives on the LAN from its router's address.
        for n in [b, c] {
            let (source, payload) = try receiveUDP(topology, on: a, from: n)
            #expect(source == n.routerAddress, "UDP from \(n.name) should come from its router \(n.routerAddress ?? "?"), came from \(source)")
            #expect(payload == "hello from \(n.name)")
        }

        let namespaces = topology.remainingNamespaces
        #expect(namespaces.count == 5, "a, two routers and the two nodes behind them: \(namespaces)")
        topology.tearDown()
        tornDown = true
        #expect(topology.remainingNamespaces.isEmpty, "namespaces left: \(topology.remainingNamespaces)")
        #expect(topology.remainingLinks.isEmpty, "links left: \(topology.remainingLinks)")
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/var/run/netns")) ?? []
        #expect(!all.contains { $0.hasPrefix("pier-m\(topology.tag)-") }, "namespaces of this topology left: \(all)")
    }

    /// Listens on UDP in `receiver`'s namespace, sends one datagram from `sender`'s, and returns
    /// the source address and payload the receiver saw.
    private func receiveUDP(_ topology: MeshTopology, on receiver: MeshTopology.Node, from sender: MeshTopology.Node) throws -> (String, String) {
        let port = Int.random(in: 40000...50000)
        let out = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-udp-\(topology.tag)-\(sender.name)")
        defer { try? FileManager.default.removeItem(at: out) }
        FileManager.default.createFile(atPath: out.path, contents: nil)
        let listener = Process()
        listener.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        listener.arguments = MeshTopology.nsenter(receiver.namespace, [
            "/usr/bin/python3", "-c",
            "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', \(port))); "
                + "s.settimeout(20); d, a = s.recvfrom(200); print(a[0], d.decode())",
        ])
        let handle = try FileHandle(forWritingTo: out)
        defer { try? handle.close() }
        listener.standardOutput = handle
        listener.standardError = handle
        try listener.run()
        defer {
            if listener.isRunning { kill(listener.processIdentifier, SIGKILL) }
            MeshCluster.waitForExit(listener)
        }
        let bound = waitUntil(10) {
            try topology.run(in: receiver, ["/usr/bin/ss", "-uln"]).stdout.contains(":\(port) ")
        }
        guard bound else { throw TestFailure("the UDP listener in \(receiver.name) did not bind port \(port): \((try? String(contentsOf: out, encoding: .utf8)) ?? "")") }
        let send = try topology.run(in: sender, [
            "/usr/bin/python3", "-c",
            "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'hello from \(sender.name)', ('\(receiver.address)', \(port)))",
        ])
        #expect(send.status == 0, "sending from \(sender.name): \(send.stderr)")
        guard waitUntil(10, { !listener.isRunning }) else { throw TestFailure("no datagram from \(sender.name) reached \(receiver.name) within 10 s") }
        let text = ((try? String(contentsOf: out, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
        guard listener.terminationStatus == 0, parts.count == 2 else { throw TestFailure("the UDP listener in \(receiver.name) said: \(text)") }
        return (parts[0], parts[1])
    }

    /// The cluster harness of the mesh tests without the mesh: agents behind NAT join the manager on
    /// the LAN, tasks land where their constraint says, and the transfer check works (two containers on one node).
    @Test func agentsBehindNATJoinAndTheTransferCheckWorks() throws {
        let cluster = try MeshCluster.start(mesh: false)
        defer { cluster.tearDown() }
        let b = try cluster.agent("node-b")
        try cluster.runService("one", on: b)
        try cluster.runService("two", on: b)
        let one = try cluster.endpoint("one", on: b).endpoint, two = try cluster.endpoint("two", on: b).endpoint
        #expect(one.address != two.address)
        #expect(cluster.ping(one, two))
        try cluster.transfer(one, two)
        try cluster.transfer(two, one, bytes: 1 << 20)
        // The check can fail: nothing listens at an address no container has.
        let nowhere = MeshCluster.Endpoint(label: "nowhere", netns: two.netns, address: "192.0.2.1")
        #expect(throws: TestFailure.self) { try cluster.transfer(one, nowhere, bytes: 1024, timeout: 3) }
    }
}

import Foundation
import PierAgent
import PierCluster
import PierRuntime
import PierTestSupport
import Testing

/// The agent's mesh code between two simulated nodes: network namespaces joined by a veth pair
/// (the underlay), each with a bridge on its leased /24 and a "container" namespace on it, as
/// the CNI bridge plugin would attach one. Each node's `NodeMesh` runs its tools in the node's
/// namespace and is given the peer sets the manager would send (made here by hand):
///
///     ns <t>ca 10.230.1.2 ─ bridge 10.230.1.1 ─ ns <t>a  10.231.0.1 ══ veth ══ 10.231.0.2  ns <t>b ─ bridge 10.230.2.1 ─ ns <t>cb 10.230.2.2
///                                                  mesh 10.230.1.0/32          mesh 10.230.2.0/32
///
/// Shown through wireguard-go, then over VXLAN: a ping and a 10 MB transfer with a checksum
/// between the containers, the sender's address kept (no masquerading inside the cluster).
@Suite(
    "Mesh data path", .serialized,
    .requires(
        Requirement.isRoot && ["/usr/bin/wireguard-go", "/usr/bin/wg", "/usr/bin/socat", "/usr/bin/nsenter", "/usr/sbin/ip", "/bin/busybox"]
            .allSatisfy(Requirement.executable),
        "root, wireguard-go, wireguard-tools, socat, util-linux, iproute2 and busybox-static"),
    .timeLimit(.minutes(5)))
struct MeshDataPathTests {
    static let range = try! IPv4Network(parsing: "10.230.0.0/16")

    /// Two nodes, their containers, and everything to remove afterwards.
    final class Topology: @unchecked Sendable {
        let tag = String(UInt32.random(in: 0..<0xFFFF), radix: 16)
        let root: URL
        var namespaces: [String] = []
        var pids: [Int32] = []
        var meshes: [NodeMesh] = []

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("pier-mesh-\(tag)-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        }

        func node(_ n: String) -> String { "pm\(tag)\(n)" }
        func container(_ n: String) -> String { "pm\(tag)c\(n)" }
        func path(_ namespace: String) -> String { "/run/netns/\(namespace)" }
        var bridge: String { "pmbr\(tag)" }
        func subnet(_ n: String) -> IPv4Network { try! IPv4Network(parsing: n == "a" ? "10.230.1.0/24" : "10.230.2.0/24") }
        func underlay(_ n: String) -> String { n == "a" ? "10.231.0.1" : "10.231.0.2" }
        func containerAddress(_ n: String) -> String { n == "a" ? "10.230.1.2" : "10.230.2.2" }

        @discardableResult
        func sh(_ args: String...) throws -> CommandResult {
            let r = try runProcess(args[0], Array(args.dropFirst()), timeout: 30)
            if r.status != 0 { throw Failure("\(args.joined(separator: " ")): \(r.stderr)") }
            return r
        }

        func inNamespace(_ namespace: String, _ args: [String], timeout: TimeInterval = 30) throws -> CommandResult {
            try runProcess("/usr/bin/nsenter", ["--net=\(path(namespace))", "--"] + args, timeout: timeout)
        }

        /// The two nodes on one underlay link, each with a bridge on its /24 and a container on it.
        func build() throws {
            for n in ["a", "b"] {
                for ns in [node(n), container(n)] {
                    try sh("/usr/sbin/ip", "netns", "add", ns)
                    namespaces.append(ns)
                    try sh("/usr/sbin/ip", "-n", ns, "link", "set", "lo", "up")
                }
            }
            try sh("/usr/sbin/ip", "link", "add", "pm\(tag)ua", "netns", node("a"), "type", "veth", "peer", "name", "pm\(tag)ub", "netns", node("b"))
            for n in ["a", "b"] {
                let ns = node(n)
                try sh("/usr/sbin/ip", "-n", ns, "address", "add", "\(underlay(n))/24", "dev", "pm\(tag)u\(n)")
                try sh("/usr/sbin/ip", "-n", ns, "link", "set", "pm\(tag)u\(n)", "up")
                let gateway = IPv4Network.format(subnet(n).host(1))
                try sh("/usr/sbin/ip", "-n", ns, "link", "add", bridge, "type", "bridge")
                try sh("/usr/sbin/ip", "-n", ns, "address", "add", "\(gateway)/24", "dev", bridge)
                try sh("/usr/sbin/ip", "-n", ns, "link", "set", bridge, "up")
                try sh("/usr/sbin/ip", "-n", ns, "link", "add", "pm\(tag)v\(n)", "type", "veth", "peer", "name", "eth0", "netns", container(n))
                try sh("/usr/sbin/ip", "-n", ns, "link", "set", "pm\(tag)v\(n)", "master", bridge, "up")
                try sh("/usr/sbin/ip", "-n", container(n), "address", "add", "\(containerAddress(n))/24", "dev", "eth0")
                try sh("/usr/sbin/ip", "-n", container(n), "link", "set", "eth0", "up")
                try sh("/usr/sbin/ip", "-n", container(n), "route", "add", "default", "via", gateway)
            }
        }

        func mesh(_ n: String, interface: String) -> NodeMesh {
            let mesh = NodeMesh(configuration: .init(
                dataRoot: root.appendingPathComponent(n), options: MeshOptions(interface: interface), bridge: bridge,
                commands: HostNetworkCommands(namespacePath: path(node(n)))))
            meshes.append(mesh)
            return mesh
        }

        func tearDown() async {
            for mesh in meshes {
                if let pid = await mesh.wireguardGoPID { pids.append(pid) }
                for problem in await mesh.tearDown() { Issue.record("mesh teardown: \(problem)") }
            }
            for pid in pids where pid > 0 { kill(pid, SIGKILL) }
            for ns in namespaces.reversed() { _ = try? runProcess("/usr/sbin/ip", ["netns", "delete", ns], timeout: 30) }
            for n in ["a", "b"] { unlink("/var/run/wireguard/pm\(tag)w\(n).sock") }
            try? FileManager.default.removeItem(at: root)
        }
    }

    struct Failure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    /// Pings until an answer comes (the first handshake), within a deadline.
    func reachable(_ t: Topology, from: String, to address: String) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let r = try t.inNamespace(t.container(from), ["/bin/busybox", "ping", "-c", "1", "-W", "1", address], timeout: 10)
            if r.status == 0 { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// 10 MB of random bytes from container a to container b through socat; returns the two
    /// checksums and what the receiver logged about its peer.
    func transfer(_ t: Topology) async throws -> (sent: String, received: String, peerLog: String) {
        let source = t.root.appendingPathComponent("source.bin"), target = t.root.appendingPathComponent("received.bin")
        try t.sh("/bin/dd", "if=/dev/urandom", "of=\(source.path)", "bs=1M", "count=10", "status=none")
        try? FileManager.default.removeItem(at: target)
        let listener = Process()
        listener.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        listener.arguments = ["--net=\(t.path(t.container("b")))", "--", "/usr/bin/socat", "-d", "-d", "-u",
                              "TCP-LISTEN:5001,reuseaddr", "CREATE:\(target.path)"]
        let log = Pipe()
        listener.standardError = log
        listener.standardOutput = FileHandle.nullDevice
        try listener.run()
        t.pids.append(listener.processIdentifier)
        defer { kill(listener.processIdentifier, SIGKILL); listener.waitUntilExit() }
        let deadline = ContinuousClock.now + .seconds(30)
        var sent = false
        while !sent && ContinuousClock.now < deadline {
            let r = try t.inNamespace(t.container("a"), ["/usr/bin/socat", "-u", "OPEN:\(source.path)", "TCP:\(t.containerAddress("b")):5001"], timeout: 60)
            sent = r.status == 0
            if !sent { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(sent, "socat could not send to \(t.containerAddress("b")):5001")
        while listener.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let peerLog = listener.isRunning ? "" : String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let sums = try t.sh("/usr/bin/sha256sum", source.path, target.path).stdout.split(separator: "\n").map { String($0.prefix(64)) }
        return (sums.first ?? "", sums.count > 1 ? sums[1] : "", peerLog)
    }

    /// With `PIER_MESH_FIGURES=1`: RTT (busybox ping) and one TCP stream (iperf3, 3 s) between the
    /// containers, printed, never asserted.
    func printFigures(_ t: Topology, _ label: String) async throws {
        guard ProcessInfo.processInfo.environment["PIER_MESH_FIGURES"] == "1", Requirement.executable("/usr/bin/iperf3") else { return }
        let ping = try t.inNamespace(t.container("a"), ["/bin/busybox", "ping", "-c", "20", t.containerAddress("b")]).stdout
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        server.arguments = ["--net=\(t.path(t.container("b")))", "--", "/usr/bin/iperf3", "-s", "-1", "-p", "5201"]
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        t.pids.append(server.processIdentifier)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        try await Task.sleep(for: .milliseconds(300))
        let iperf = try t.inNamespace(t.container("a"), ["/usr/bin/iperf3", "-c", t.containerAddress("b"), "-p", "5201", "-t", "3", "-f", "m"], timeout: 30).stdout
        let rtt = ping.split(separator: "\n").last { $0.contains("round-trip") } ?? ""
        let rate = iperf.split(separator: "\n").last { $0.contains("receiver") } ?? ""
        print("figures \(label): \(rtt) | \(rate)")
    }

    func routes(_ t: Topology, _ n: String, _ interface: String) throws -> String {
        try t.inNamespace(t.node(n), ["/usr/sbin/ip", "route", "show", "dev", interface]).stdout
    }

    @Test("WireGuard through wireguard-go, then VXLAN: ping and a 10 MB transfer between the two nodes' /24s, sources kept")
    func twoNodes() async throws {
        let t = try Topology()
        do {
            try t.build()
            try await wireguard(t)
            try await vxlan(t)
        } catch {
            await t.tearDown()
            throw error
        }
        await t.tearDown()
        for ns in t.namespaces { #expect(!FileManager.default.fileExists(atPath: t.path(ns))) }
        for pid in t.pids { #expect(kill(pid, 0) != 0, "process \(pid) still runs") }
    }

    func wireguard(_ t: Topology) async throws {
        let a = t.mesh("a", interface: "pm\(t.tag)wa"), b = t.mesh("b", interface: "pm\(t.tag)wb")
        var reports: [String: NodeNetworkReport] = [:]
        for (n, mesh) in [("a", a), ("b", b)] {
            try await mesh.apply(lease: NodeLease(subnet: t.subnet(n), clusterRange: Self.range, dataPath: .wireguard, mtu: nil))
            let report = mesh.report()
            reports[n] = report
            // What the hello says: the key made here, the underlay address (not the bridge's), its MTU, how WireGuard runs.
            #expect(report.addresses == [t.underlay(n)])
            #expect(report.underlayMTU == 1500)
            #expect(report.wireguard == "wireguard-go" || report.wireguard == "kernel")
            #expect(report.vxlan && report.subnet == t.subnet(n) && report.listenPort == 51820)
            #expect(report.publicKey.map(MeshKey.isValidKey) == true)
        }
        // A lease overlapping the node's own underlay is refused and changes nothing.
        await #expect { try await a.apply(lease: NodeLease(subnet: try IPv4Network(parsing: "10.231.0.0/24"), clusterRange: try IPv4Network(parsing: "10.231.0.0/16"), dataPath: .wireguard, mtu: nil)) } throws: {
            "\($0)".contains("overlaps this node's own network 10.231.0.1/24")
        }
        #expect(a.lease?.subnet == t.subnet("a"))

        func peerSet(for n: String) -> PeerSet {
            let other = n == "a" ? "b" : "a"
            return PeerSet(dataPath: .wireguard, clusterRange: Self.range, mtu: nil, peers: [
                MeshPeer(nodeID: "node-\(other)", hostname: "node-\(other)", publicKey: reports[other]?.publicKey,
                         endpoint: "\(t.underlay(other)):51820", allowedIPs: [t.subnet(other)], keepalive: 25),
            ])
        }
        #expect(try await a.apply(peers: peerSet(for: "a")).isEmpty)
        #expect(try await b.apply(peers: peerSet(for: "b")).isEmpty)
        let pidA = try #require(await a.wireguardGoPID)
        let pidB = try #require(await b.wireguardGoPID)
        t.pids += [pidA, pidB]
        #expect(try routes(t, "a", "pm\(t.tag)wa").contains("10.230.2.0/24"))
        let mtu = try t.inNamespace(t.node("a"), ["/usr/sbin/ip", "link", "show", "dev", "pm\(t.tag)wa"]).stdout
        #expect(mtu.contains("mtu 1420"))

        #expect(try await reachable(t, from: "a", to: t.containerAddress("b")))
        let result = try await transfer(t)
        #expect(result.sent.count == 64 && result.sent == result.received)
        #expect(result.peerLog.contains("10.230.1.2"), "the receiver saw \(result.peerLog)")
        try await printFigures(t, "wireguard")

        // An unchanged peer set does nothing: the configuration file is not even rewritten.
        let conf = t.root.appendingPathComponent("a/mesh/pm\(t.tag)wa.conf")
        let written = try FileManager.default.attributesOfItem(atPath: conf.path)[.modificationDate] as? Date
        try await Task.sleep(for: .milliseconds(20))
        try await a.apply(peers: peerSet(for: "a"))
        #expect(try FileManager.default.attributesOfItem(atPath: conf.path)[.modificationDate] as? Date == written)
        #expect((try FileManager.default.attributesOfItem(atPath: conf.path)[.posixPermissions] as? Int) == 0o600)

        // wireguard-go killed: the agent starts it again and re-applies the peers.
        kill(pidA, SIGKILL)
        let deadline = ContinuousClock.now + .seconds(15)
        var restarted: Int32?
        while ContinuousClock.now < deadline {
            if let pid = await a.wireguardGoPID, pid != pidA { restarted = pid; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let newPID = try #require(restarted, "wireguard-go was not started again")
        t.pids.append(newPID)
        #expect(try await reachable(t, from: "a", to: t.containerAddress("b")))

        // The peer gone: its route goes.
        try await a.apply(peers: PeerSet(dataPath: .wireguard, clusterRange: Self.range, mtu: nil, peers: []))
        #expect(try !routes(t, "a", "pm\(t.tag)wa").contains("10.230.2.0/24"))

        // Teardown: wireguard-go stopped, the interfaces and the agent's chains gone.
        for mesh in [a, b] { #expect(await mesh.tearDown().isEmpty) }
        let gone = ContinuousClock.now + .seconds(5)
        while (kill(pidB, 0) == 0 || kill(newPID, 0) == 0) && ContinuousClock.now < gone { try await Task.sleep(for: .milliseconds(20)) }
        #expect(kill(pidB, 0) != 0 && kill(newPID, 0) != 0)
        #expect(try t.inNamespace(t.node("a"), ["/usr/sbin/ip", "link", "show", "dev", "pm\(t.tag)wa"]).status != 0)
        let nat = try t.inNamespace(t.node("a"), ["/usr/sbin/iptables", "-w", "-t", "nat", "-S"]).stdout
        #expect(!nat.contains("PIER-POSTROUTING"))
    }

    func vxlan(_ t: Topology) async throws {
        let a = t.mesh("a", interface: "pm\(t.tag)xa"), b = t.mesh("b", interface: "pm\(t.tag)xb")
        for (n, mesh) in [("a", a), ("b", b)] {
            try await mesh.apply(lease: NodeLease(subnet: t.subnet(n), clusterRange: Self.range, dataPath: .vxlan, mtu: nil))
        }
        func peerSet(for n: String) -> PeerSet {
            let other = n == "a" ? "b" : "a"
            return PeerSet(dataPath: .vxlan, clusterRange: Self.range, mtu: nil, peers: [
                MeshPeer(nodeID: "node-\(other)", hostname: "node-\(other)", allowedIPs: [t.subnet(other)],
                         underlayAddress: t.underlay(other), vtepMAC: VXLANAddressing.vtepMAC(for: t.subnet(other))),
            ])
        }
        #expect(try await a.apply(peers: peerSet(for: "a")).isEmpty)
        #expect(try await b.apply(peers: peerSet(for: "b")).isEmpty)
        let link = try t.inNamespace(t.node("a"), ["/usr/sbin/ip", "-d", "link", "show", "dev", "pm\(t.tag)xa"]).stdout
        #expect(link.contains("mtu 1450") && link.contains("vxlan id 1") && link.contains("dstport 8472") && link.contains("02:50:0a:e6:01:00"))
        #expect(try routes(t, "a", "pm\(t.tag)xa").contains("10.230.2.0/24 via 10.230.2.0"))

        #expect(try await reachable(t, from: "a", to: t.containerAddress("b")))
        let result = try await transfer(t)
        #expect(result.sent.count == 64 && result.sent == result.received)
        #expect(result.peerLog.contains("10.230.1.2"), "the receiver saw \(result.peerLog)")
        try await printFigures(t, "vxlan")

        // The peer gone: its route, neighbour and forwarding entry go.
        try await a.apply(peers: PeerSet(dataPath: .vxlan, clusterRange: Self.range, mtu: nil, peers: []))
        #expect(try !routes(t, "a", "pm\(t.tag)xa").contains("10.230.2.0/24"))
        let neigh = try t.inNamespace(t.node("a"), ["/usr/sbin/ip", "neigh", "show", "dev", "pm\(t.tag)xa"]).stdout
        let fdb = try t.inNamespace(t.node("a"), ["/usr/sbin/bridge", "fdb", "show", "dev", "pm\(t.tag)xa"]).stdout
        #expect(!neigh.contains("10.230.2.0") && !fdb.contains("10.231.0.2"))
    }
}

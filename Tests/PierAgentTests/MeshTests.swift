import Foundation
import PierCluster
import Testing

@testable import PierAgent

/// What the agent renders for the cluster network, checked without touching the host: the
/// WireGuard configuration, the route, neighbour and forwarding calls, the iptables chains,
/// the stored lease and key, and the peers and leases it refuses.
@Suite struct MeshTests {
    static func cidr(_ text: String) -> IPv4Network { try! IPv4Network(parsing: text) }
    static let range = cidr("10.89.0.0/16")
    static let keyA = Data(repeating: 1, count: 32).base64EncodedString()
    static let keyB = Data(repeating: 2, count: 32).base64EncodedString()
    static let keyC = Data(repeating: 3, count: 32).base64EncodedString()

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pier-mesh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    // MARK: WireGuard configuration

    @Test("the wg syncconf file has the interface's key and port, and per peer its key, endpoint, allowed addresses and keepalive")
    func wireguardConfig() {
        let peers = [
            MeshPeer(nodeID: "n2", hostname: "gw-2", publicKey: Self.keyB, endpoint: "192.0.2.7:51820", allowedIPs: [Self.cidr("10.89.2.0/24")]),
            MeshPeer(nodeID: "n3", hostname: "relay", publicKey: Self.keyC, allowedIPs: [Self.cidr("10.89.3.0/24"), Self.cidr("10.89.0.0/16")],
                     keepalive: 25),
        ]
        let text = WireGuardConfig.render(privateKey: Self.keyA, listenPort: 51820, peers: peers)
        #expect(text == """
            [Interface]
            PrivateKey = \(Self.keyA)
            ListenPort = 51820

            # gw-2 (n2)
            [Peer]
            PublicKey = \(Self.keyB)
            Endpoint = 192.0.2.7:51820
            AllowedIPs = 10.89.2.0/24

            # relay (n3)
            [Peer]
            PublicKey = \(Self.keyC)
            AllowedIPs = 10.89.3.0/24, 10.89.0.0/16
            PersistentKeepalive = 25

            """)
        // A host name cannot smuggle a line into the file.
        let hostile = MeshPeer(nodeID: "n9", hostname: "x\n[Peer]\nPublicKey = AAAA", publicKey: Self.keyB, allowedIPs: [Self.cidr("10.89.9.0/24")])
        let rendered = WireGuardConfig.render(privateKey: Self.keyA, listenPort: 1, peers: [hostile])
        #expect(rendered.split(separator: "\n").filter { $0.hasPrefix("PublicKey") }.count == 1)
        #expect(rendered.split(separator: "\n").filter { $0 == "[Peer]" }.count == 1)
    }

    // MARK: Routes, neighbours, forwarding entries

    @Test("WireGuard: each allowed prefix is routed into the interface; routes of peers gone are removed, others left alone")
    func wireguardRoutes() {
        let peers = [
            MeshPeer(nodeID: "n2", hostname: "b", publicKey: Self.keyB, allowedIPs: [Self.cidr("10.89.2.0/24")]),
            MeshPeer(nodeID: "n3", hostname: "c", publicKey: Self.keyC, allowedIPs: [Self.cidr("10.89.3.0/24")]),
        ]
        let observed = MeshLayout.observed(
            routes: #"[{"dst":"10.89.2.0/24","dev":"pier-wg0","scope":"link","flags":[]},{"dst":"10.89.7.0/24","dev":"pier-wg0","scope":"link","flags":[]},{"dst":"10.89.1.0","dev":"pier-wg0","protocol":"kernel","scope":"link","flags":[]}]"#,
            neighbours: "", forwarding: "")
        #expect(MeshLayout.wireguard(peers).commands(interface: "pier-wg0", from: observed) == [
            ["ip", "route", "del", "10.89.7.0/24", "dev", "pier-wg0"],
            ["ip", "route", "replace", "10.89.3.0/24", "dev", "pier-wg0"],
        ])
        // Unchanged: nothing to do.
        let now = MeshLayout.observed(
            routes: #"[{"dst":"10.89.2.0/24","dev":"pier-wg0","scope":"link"},{"dst":"10.89.3.0/24","dev":"pier-wg0","scope":"link"}]"#,
            neighbours: "[]", forwarding: "[]")
        #expect(MeshLayout.wireguard(peers).commands(interface: "pier-wg0", from: now).isEmpty)
    }

    @Test("VXLAN, as flannel: permanent neighbour, forwarding entry and onlink route per peer; entries of peers gone are removed")
    func vxlanEntries() {
        let b = Self.cidr("10.89.2.0/24"), c = Self.cidr("10.89.3.0/24")
        let peers = [
            MeshPeer(nodeID: "n2", hostname: "b", allowedIPs: [b], underlayAddress: "192.0.2.12", vtepMAC: VXLANAddressing.vtepMAC(for: b)),
            MeshPeer(nodeID: "n3", hostname: "c", allowedIPs: [c], underlayAddress: "192.0.2.13", vtepMAC: VXLANAddressing.vtepMAC(for: c)),
        ]
        #expect(MeshLayout.vxlan(peers).commands(interface: "pier-vx0", from: MeshLayout()) == [
            ["ip", "neigh", "replace", "10.89.2.0", "lladdr", "02:50:0a:59:02:00", "dev", "pier-vx0", "nud", "permanent"],
            ["ip", "neigh", "replace", "10.89.3.0", "lladdr", "02:50:0a:59:03:00", "dev", "pier-vx0", "nud", "permanent"],
            ["bridge", "fdb", "replace", "02:50:0a:59:02:00", "dev", "pier-vx0", "dst", "192.0.2.12"],
            ["bridge", "fdb", "replace", "02:50:0a:59:03:00", "dev", "pier-vx0", "dst", "192.0.2.13"],
            ["ip", "route", "replace", "10.89.2.0/24", "via", "10.89.2.0", "dev", "pier-vx0", "onlink"],
            ["ip", "route", "replace", "10.89.3.0/24", "via", "10.89.3.0", "dev", "pier-vx0", "onlink"],
        ])
        // Peer c gone, b moved to another underlay address; a learnt (not permanent) neighbour is left alone.
        let moved = [MeshPeer(nodeID: "n2", hostname: "b", allowedIPs: [b], underlayAddress: "192.0.2.22", vtepMAC: VXLANAddressing.vtepMAC(for: b))]
        let observed = MeshLayout.observed(
            routes: #"[{"dst":"10.89.2.0/24","gateway":"10.89.2.0","dev":"pier-vx0","flags":["onlink"]},{"dst":"10.89.3.0/24","gateway":"10.89.3.0","dev":"pier-vx0","flags":["onlink"]}]"#,
            neighbours: #"[{"dst":"10.89.2.0","dev":"pier-vx0","lladdr":"02:50:0a:59:02:00","state":["PERMANENT"]},{"dst":"10.89.3.0","dev":"pier-vx0","lladdr":"02:50:0a:59:03:00","state":["PERMANENT"]},{"dst":"10.89.4.0","dev":"pier-vx0","lladdr":"02:50:0a:59:04:00","state":["STALE"]}]"#,
            forwarding: #"[{"mac":"02:50:0a:59:02:00","dst":"192.0.2.12","flags":[],"state":"permanent"},{"mac":"02:50:0a:59:03:00","dst":"192.0.2.13","state":"permanent"}]"#)
        #expect(MeshLayout.vxlan(moved).commands(interface: "pier-vx0", from: observed) == [
            ["ip", "route", "del", "10.89.3.0/24", "via", "10.89.3.0", "dev", "pier-vx0"],
            ["ip", "neigh", "del", "10.89.3.0", "dev", "pier-vx0"],
            ["bridge", "fdb", "del", "02:50:0a:59:02:00", "dev", "pier-vx0", "dst", "192.0.2.12"],
            ["bridge", "fdb", "del", "02:50:0a:59:03:00", "dev", "pier-vx0", "dst", "192.0.2.13"],
            ["bridge", "fdb", "replace", "02:50:0a:59:02:00", "dev", "pier-vx0", "dst", "192.0.2.22"],
        ])
    }

    // MARK: iptables

    @Test("masquerading: only what the node's subnet sends out of the cluster range, in the agent's own nat chain")
    func masqueradeRules() {
        let chain = MeshFirewall.masquerade(subnet: Self.cidr("10.89.3.0/24"), clusterRange: Self.range)
        #expect(MeshFirewall.install(chain, jumpPresent: false, rulesPresent: false, chainExists: false) == [
            ["iptables", "-w", "-t", "nat", "-N", "PIER-POSTROUTING"],
            ["iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-j", "PIER-POSTROUTING"],
            ["iptables", "-w", "-t", "nat", "-F", "PIER-POSTROUTING"],
            ["iptables", "-w", "-t", "nat", "-A", "PIER-POSTROUTING", "-s", "10.89.3.0/24", "!", "-d", "10.89.0.0/16",
             "-m", "comment", "--comment", "pier: leaving the cluster", "-j", "MASQUERADE"],
        ])
        // Already in place: nothing.
        #expect(MeshFirewall.install(chain, jumpPresent: true, rulesPresent: true, chainExists: true).isEmpty)
        #expect(MeshFirewall.remove(table: "nat", name: "PIER-POSTROUTING", parent: "POSTROUTING") == [
            ["iptables", "-w", "-t", "nat", "-D", "POSTROUTING", "-j", "PIER-POSTROUTING"],
            ["iptables", "-w", "-t", "nat", "-F", "PIER-POSTROUTING"],
            ["iptables", "-w", "-t", "nat", "-X", "PIER-POSTROUTING"],
        ])
    }

    @Test("forwarding: bridge ↔ mesh inside the cluster range, mesh → mesh only on a relay, jumped to first")
    func forwardRules() {
        let plain = MeshFirewall.forward(bridge: "pier0", mesh: "pier-wg0", subnet: Self.cidr("10.89.3.0/24"), clusterRange: Self.range, relay: false)
        #expect(plain.rules == [
            ["-i", "pier0", "-o", "pier-wg0", "-s", "10.89.3.0/24", "-d", "10.89.0.0/16", "-j", "ACCEPT"],
            ["-i", "pier-wg0", "-o", "pier0", "-s", "10.89.0.0/16", "-d", "10.89.3.0/24", "-j", "ACCEPT"],
        ])
        let relay = MeshFirewall.forward(bridge: "pier0", mesh: "pier-wg0", subnet: Self.cidr("10.89.3.0/24"), clusterRange: Self.range, relay: true)
        #expect(relay.rules.last == ["-i", "pier-wg0", "-o", "pier-wg0", "-s", "10.89.0.0/16", "-d", "10.89.0.0/16", "-j", "ACCEPT"])
        #expect(MeshFirewall.install(relay, jumpPresent: false, rulesPresent: true, chainExists: true) == [
            ["iptables", "-w", "-t", "filter", "-I", "FORWARD", "1", "-j", "PIER-FORWARD"],
        ])
    }

    // MARK: Lease

    @Test("network.json round trip: the lease comes back as stored, the file written whole with mode 0600")
    func leaseRoundTrip() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let file = NetworkLeaseFile(dataRoot: root)
        #expect(try file.load() == nil)
        let lease = NodeLease(subnet: Self.cidr("10.89.3.0/24"), clusterRange: Self.range, dataPath: .wireguard, mtu: 1420)
        try file.save(lease)
        #expect(try file.load() == lease)
        #expect(try NetworkLeaseFile(dataRoot: root).load() == lease)
        let attributes = try FileManager.default.attributesOfItem(atPath: file.url.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(file.url.path.hasSuffix("cluster/network.json"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: file.url.deletingLastPathComponent().path)
        #expect(leftovers == ["network.json"])
        // A damaged file is an error naming it, not a crash and not a lease.
        try Data("{\"subnet\":\"garbage\"}".utf8).write(to: file.url)
        #expect { try file.load() } throws: { "\($0)".contains(file.url.path) }
    }

    @Test("a lease overlapping the node's own network, outside the range, with host bits or a bad MTU is refused with a clear error")
    func badLeases() {
        let lan = [Self.cidr("192.168.1.10/24"), Self.cidr("10.89.3.77/28")]
        func refusal(_ lease: NodeLease) -> String? {
            do { try NetworkLeaseFile.check(lease, underlay: lan); return nil } catch { return error.description }
        }
        #expect(refusal(NodeLease(subnet: Self.cidr("10.89.2.0/24"), clusterRange: Self.range, dataPath: .wireguard, mtu: nil)) == nil)
        #expect(refusal(NodeLease(subnet: Self.cidr("10.89.3.0/24"), clusterRange: Self.range, dataPath: .wireguard, mtu: nil))?
            .contains("overlaps this node's own network 10.89.3.77/28") == true)
        #expect(refusal(NodeLease(subnet: Self.cidr("192.168.1.0/24"), clusterRange: Self.cidr("192.168.0.0/16"), dataPath: .vxlan, mtu: nil))?
            .contains("overlaps") == true)
        #expect(refusal(NodeLease(subnet: Self.cidr("10.90.1.0/24"), clusterRange: Self.range, dataPath: .wireguard, mtu: nil))?
            .contains("outside the cluster range 10.89.0.0/16") == true)
        #expect(refusal(NodeLease(subnet: Self.cidr("10.89.2.5/24"), clusterRange: Self.range, dataPath: .wireguard, mtu: nil))?
            .contains("host bits") == true)
        #expect(refusal(NodeLease(subnet: Self.cidr("10.89.2.0/24"), clusterRange: Self.range, dataPath: .wireguard, mtu: 100))?
            .contains("lease MTU 100") == true)
        #expect(refusal(NodeLease(subnet: Self.cidr("10.89.2.0/31"), clusterRange: Self.range, dataPath: .wireguard, mtu: nil))?
            .contains("prefix of 8 to 30") == true)
    }

    // MARK: Key

    @Test("the key pair is made once, kept with mode 0600, and its public key is X25519 of the private one")
    func keyPair() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let url = root.appendingPathComponent("mesh/private.key")
        let first = try MeshKey.loadOrCreate(at: url)
        let again = try MeshKey.loadOrCreate(at: url)
        #expect(first.publicKey == again.publicKey && first.privateKey == again.privateKey)
        #expect(MeshKey.isValidKey(first.publicKey) && MeshKey.isValidKey(first.privateKey) && first.publicKey != first.privateKey)
        #expect((try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int) == 0o600)
        #expect(try String(contentsOf: url, encoding: .utf8) == first.privateKey + "\n")
        // wg(8) derives the same public key, where it is installed.
        if let wg = ["/usr/bin/wg", "/usr/sbin/wg"].first(where: FileManager.default.isExecutableFile(atPath:)) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: wg)
            process.arguments = ["pubkey"]
            let input = Pipe(), output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            input.fileHandleForWriting.write(Data(first.privateKey.utf8))
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
            let derived = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(derived.trimmingCharacters(in: .whitespacesAndNewlines) == first.publicKey)
        }
        // A damaged key is refused, naming the file, and left as it is.
        try Data("not a key\n".utf8).write(to: url)
        #expect { try MeshKey.loadOrCreate(at: url) } throws: { "\($0)".contains(url.path) }
        #expect(try String(contentsOf: url, encoding: .utf8) == "not a key\n")
    }

    // MARK: Peers

    @Test("peers with a garbage key, endpoint, prefix, MAC or keepalive are left out with the reason; the others are kept")
    func peerChecks() {
        let own = Self.cidr("10.89.1.0/24")
        func peer(_ id: String, key: String? = MeshTests.keyB, endpoint: String? = nil, allowed: [String], keepalive: Int? = nil) -> MeshPeer {
            MeshPeer(nodeID: id, hostname: id, publicKey: key, endpoint: endpoint, allowedIPs: allowed.map(Self.cidr), keepalive: keepalive)
        }
        let set = PeerSet(dataPath: .wireguard, clusterRange: Self.range, mtu: nil, peers: [
            peer("good", endpoint: "192.0.2.7:51820", allowed: ["10.89.2.0/24"]),
            peer("relay", key: Self.keyC, endpoint: "relay.example:51820", allowed: ["10.89.0.0/16"], keepalive: 25),
            peer("garbage-key", key: "AAAA", allowed: ["10.89.4.0/24"]),
            peer("newline", key: Data(repeating: 4, count: 32).base64EncodedString(), endpoint: "1.2.3.4:5\nPublicKey = x", allowed: ["10.89.5.0/24"]),
            peer("outside", key: Data(repeating: 5, count: 32).base64EncodedString(), allowed: ["10.90.0.0/24"]),
            peer("mine", key: Data(repeating: 6, count: 32).base64EncodedString(), allowed: ["10.89.1.0/25"]),
            peer("same-key", allowed: ["10.89.8.0/24"]),
            peer("same-prefix", key: Data(repeating: 7, count: 32).base64EncodedString(), allowed: ["10.89.2.0/24"]),
            peer("self", key: Self.keyA, allowed: ["10.89.9.0/24"]),
            peer("keepalive", key: Data(repeating: 8, count: 32).base64EncodedString(), allowed: ["10.89.10.0/24"], keepalive: 0),
            peer("port", key: Data(repeating: 9, count: 32).base64EncodedString(), endpoint: "192.0.2.7:70000", allowed: ["10.89.11.0/24"]),
        ])
        let (kept, problems) = MeshPeerCheck.check(set, subnet: own, ownKey: Self.keyA)
        #expect(kept.map(\.nodeID) == ["good", "relay"])
        let text = problems.map(\.description)
        #expect(text.count == 9)
        #expect(text.contains { $0.hasPrefix("peer garbage-key") && $0.contains("not the base64 of 32 bytes") })
        #expect(text.contains { $0.hasPrefix("peer newline") && $0.contains("is not HOST:PORT") })
        #expect(text.contains { $0.hasPrefix("peer outside") && $0.contains("outside the cluster range") })
        #expect(text.contains { $0.hasPrefix("peer mine") && $0.contains("this node's own subnet") })
        #expect(text.contains { $0.hasPrefix("peer same-key") && $0.contains("belongs to another peer") })
        #expect(text.contains { $0.hasPrefix("peer same-prefix") && $0.contains("already belongs to another peer") })
        #expect(text.contains { $0.hasPrefix("peer self") && $0.contains("this node's own public key") })
        #expect(text.contains { $0.hasPrefix("peer keepalive") && $0.contains("expected 1 to 3600") })
        #expect(text.contains { $0.hasPrefix("peer port") && $0.contains("HOST:PORT") })

        let b = Self.cidr("10.89.2.0/24")
        let vx = PeerSet(dataPath: .vxlan, clusterRange: Self.range, mtu: nil, peers: [
            MeshPeer(nodeID: "ok", hostname: "ok", allowedIPs: [b], underlayAddress: "192.0.2.2", vtepMAC: VXLANAddressing.vtepMAC(for: b)),
            MeshPeer(nodeID: "multicast", hostname: "m", allowedIPs: [Self.cidr("10.89.3.0/24")], underlayAddress: "192.0.2.3", vtepMAC: "01:00:5e:00:00:01"),
            MeshPeer(nodeID: "no-underlay", hostname: "u", allowedIPs: [Self.cidr("10.89.4.0/24")], underlayAddress: "host; rm", vtepMAC: "02:50:0a:59:04:00"),
        ])
        let (vxKept, vxProblems) = MeshPeerCheck.check(vx, subnet: own, ownKey: nil)
        #expect(vxKept.map(\.nodeID) == ["ok"])
        #expect(vxProblems.map(\.description).contains { $0.contains("not a unicast MAC") })
        #expect(vxProblems.map(\.description).contains { $0.contains("is not an IPv4 address") })
    }

    @Test("mesh flags out of range are refused naming the flag and the limit")
    func options() {
        func problem(_ o: MeshOptions) -> String? {
            do { try o.validate(); return nil } catch { return error.description }
        }
        #expect(problem(MeshOptions()) == nil)
        #expect(problem(MeshOptions(interface: "pier-wg-node-a")) == nil)
        #expect(problem(MeshOptions(interface: "pier-wg-node-abc"))?.contains("--mesh-interface") == true)
        #expect(problem(MeshOptions(interface: "a/b"))?.contains("1 to 15 characters") == true)
        #expect(problem(MeshOptions(interface: ""))?.contains("--mesh-interface") == true)
        #expect(problem(MeshOptions(port: 0)) == "--mesh-port 0: expected 1 to 65535")
        #expect(problem(MeshOptions(mtu: 100)) == "--node-mtu 100: expected 576 to 9000")
        #expect(MeshOptions().interfaceName(for: .wireguard) == "pier-wg0")
        #expect(MeshOptions().interfaceName(for: .vxlan) == "pier-vx0")
        #expect(MeshOptions(interface: "wg-a").interfaceName(for: .vxlan) == "wg-a")
    }

    @Test("addresses of `ip -j address show`: global IPv4 with prefixes, loopback left out")
    func addressParsing() {
        let json = #"""
            [{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],"mtu":65536,"addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}]},
             {"ifindex":2,"ifname":"eth0","flags":["UP"],"mtu":1500,"addr_info":[{"family":"inet","local":"192.0.2.2","prefixlen":24,"scope":"global"}]},
             {"ifindex":3,"ifname":"wwan0","flags":["UP"],"mtu":1428,"addr_info":[{"family":"inet","local":"100.64.3.9","prefixlen":30,"scope":"global"}]}]
            """#
        let interfaces = HostNetwork.parseAddresses(json)
        #expect(interfaces.map(\.name) == ["eth0", "wwan0"])
        #expect(interfaces.first?.addresses == [Self.cidr("192.0.2.2/24")])
        #expect(interfaces.last?.mtu == 1428)
    }
}

import Foundation
import Testing

/// Three nodes on a LAN, two of them behind their own NAT router, as gateways on a home or
/// cellular router are:
///
///     root ns: bridge pml<tag> 10.217.N.1/24 (the LAN; a manager in the root namespace listens here)
///       ├── veth pmv<tag>a ── ns pier-m<tag>-a   lan0 10.217.N.11                     (LAN node)
///       ├── veth pmv<tag>b ── ns pier-m<tag>-rb  lan0 10.217.N.21, priv0 192.168.77.1 (router)
///       │                        └── ns pier-m<tag>-b  lan0 192.168.77.2, default via .1 (behind NAT)
///       └── veth pmv<tag>c ── ns pier-m<tag>-rc  lan0 10.217.N.22, priv0 192.168.77.1 (router)
///                                └── ns pier-m<tag>-c  lan0 192.168.77.2, default via .1 (behind NAT)
///
/// Both routers use the same private range, as two home routers do. Each masquerades what leaves
/// its LAN side and drops what the LAN starts towards its private side (a router without port
/// forwards). The routers' iptables rules live in their namespaces and go with them; `tearDown()`
/// deletes the namespaces (and so every veth end inside them), the root-side veths and the bridge.
/// Commands run in a node with `nsenter --net` (not `ip netns exec`, which remounts /sys and hides
/// the cgroup mounts from runc).
final class MeshTopology: @unchecked Sendable {
    struct Node: Sendable {
        let name: String
        /// The node's own network namespace.
        let namespace: String
        /// Its address: on the LAN, or on the private side of its router.
        let address: String
        /// The router's namespace and LAN address, for a node behind NAT.
        let router: String?
        let routerAddress: String?
        /// The root-namespace end of the link to the LAN: the node's own, or its router's
        /// (what "pulling the router's cable" takes down).
        let lanLink: String
        var behindNAT: Bool { router != nil }
        var netnsPath: String { "/var/run/netns/\(namespace)" }
    }

    static let privatePrefix = "192.168.77"

    let tag: String
    let net: Int
    let bridge: String
    private(set) var nodes: [Node] = []
    private var namespaces: [String] = []
    private var rootLinks: [String] = []
    private var bridgeCreated = false

    /// The root namespace's address on the LAN.
    var lanGateway: String { "10.217.\(net).1" }

    func node(_ name: String) throws -> Node {
        guard let n = nodes.first(where: { $0.name == name }) else { throw TestFailure("no node \(name) in the topology") }
        return n
    }

    /// Builds the topology with nodes `node-a` (LAN), `node-b` and `node-c` (each behind its router),
    /// or with `natted: false` all three on the LAN (10.217.N.11–13), as one trusted LAN is.
    static func create(natted: Bool = true) throws -> MeshTopology {
        let topology = MeshTopology()
        do {
            try topology.build(natted: natted)
        } catch {
            topology.tearDown()
            throw error
        }
        return topology
    }

    private init() {
        tag = String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(6)).lowercased()
        bridge = "pml" + tag
        let used = (try? runProcess("/usr/sbin/ip", ["-4", "-o", "addr"]).stdout) ?? ""
        net = (0..<40).lazy.map { _ in Int.random(in: 1...254) }.first { !used.contains("10.217.\($0).") } ?? Int.random(in: 1...254)
    }

    // MARK: Building

    private func ip(_ args: String...) throws {
        let r = try runProcess("/usr/sbin/ip", args, timeout: 20)
        guard r.status == 0 else { throw TestFailure("ip \(args.joined(separator: " ")) failed: \(r.stderr)") }
    }

    private func addNamespace(_ name: String) throws {
        try ip("netns", "add", name)
        namespaces.append(name)
        try ip("-n", name, "link", "set", "lo", "up")
    }

    /// A veth from the LAN bridge to `lan0` in `namespace`, with `address`.
    private func attachToLAN(_ namespace: String, link: String, address: String) throws {
        try ip("link", "add", link, "type", "veth", "peer", "name", "lan0", "netns", namespace)
        rootLinks.append(link)
        try ip("link", "set", link, "master", bridge)
        try ip("link", "set", link, "up")
        try ip("-n", namespace, "addr", "add", address + "/24", "dev", "lan0")
        try ip("-n", namespace, "link", "set", "lan0", "up")
    }

    private func build(natted: Bool) throws {
        try ip("link", "add", bridge, "type", "bridge")
        bridgeCreated = true
        try ip("addr", "add", lanGateway + "/24", "dev", bridge)
        try ip("link", "set", bridge, "up")

        let a = "pier-m\(tag)-a"
        try addNamespace(a)
        try attachToLAN(a, link: "pmv\(tag)a", address: "10.217.\(net).11")
        nodes.append(Node(name: "node-a", namespace: a, address: "10.217.\(net).11", router: nil, routerAddress: nil, lanLink: "pmv\(tag)a"))

        for (index, letter) in ["b", "c"].enumerated() where !natted {
            let namespace = "pier-m\(tag)-\(letter)", address = "10.217.\(net).\(12 + index)"
            try addNamespace(namespace)
            try attachToLAN(namespace, link: "pmv\(tag)\(letter)", address: address)
            nodes.append(Node(name: "node-\(letter)", namespace: namespace, address: address, router: nil, routerAddress: nil,
                              lanLink: "pmv\(tag)\(letter)"))
        }
        for (index, letter) in ["b", "c"].enumerated() where natted {
            let router = "pier-m\(tag)-r\(letter)"
            let namespace = "pier-m\(tag)-\(letter)"
            let routerAddress = "10.217.\(net).\(21 + index)"
            try addNamespace(router)
            try attachToLAN(router, link: "pmv\(tag)\(letter)", address: routerAddress)
            try addNamespace(namespace)
            try ip("-n", router, "link", "add", "priv0", "type", "veth", "peer", "name", "lan0", "netns", namespace)
            try ip("-n", router, "addr", "add", Self.privatePrefix + ".1/24", "dev", "priv0")
            try ip("-n", router, "link", "set", "priv0", "up")
            try ip("-n", namespace, "addr", "add", Self.privatePrefix + ".2/24", "dev", "lan0")
            try ip("-n", namespace, "link", "set", "lan0", "up")
            try ip("-n", namespace, "route", "add", "default", "via", Self.privatePrefix + ".1")
            for args in [["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"],
                         ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "lan0", "-j", "MASQUERADE"],
                         ["iptables", "-A", "FORWARD", "-i", "lan0", "-o", "priv0", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
                         ["iptables", "-A", "FORWARD", "-i", "lan0", "-o", "priv0", "-j", "DROP"]] {
                let r = try run(inNamespace: router, args)
                guard r.status == 0 else { throw TestFailure("\(args.joined(separator: " ")) in \(router) failed: \(r.stderr)") }
            }
            nodes.append(Node(name: "node-\(letter)", namespace: namespace, address: Self.privatePrefix + ".2", router: router,
                              routerAddress: routerAddress, lanLink: "pmv\(tag)\(letter)"))
        }
    }

    // MARK: Using

    /// The arguments of `/usr/bin/nsenter` that run `command` in a network namespace.
    static func nsenter(_ namespace: String, _ command: [String]) -> [String] {
        ["--net=/var/run/netns/\(namespace)", "--"] + command
    }

    /// Runs `command` (an absolute path or a name on PATH, then its arguments) in `node`'s network namespace.
    @discardableResult
    func run(in node: Node, _ command: [String], timeout: TimeInterval = 30) throws -> CommandResult {
        try run(inNamespace: node.namespace, command, timeout: timeout)
    }

    @discardableResult
    func run(inNamespace namespace: String, _ command: [String], timeout: TimeInterval = 30) throws -> CommandResult {
        try runProcess("/usr/bin/nsenter", Self.nsenter(namespace, command), timeout: timeout)
    }

    /// Whether one ping from `node` to `address` is answered within `wait` seconds.
    func ping(from node: Node, _ address: String, wait: Int = 1) throws -> Bool {
        try run(in: node, ["/bin/busybox", "ping", "-c", "1", "-W", "\(wait)", address], timeout: TimeInterval(wait + 10)).status == 0
    }

    /// Takes a node's link to the LAN down or up from the root side: for a node behind NAT its
    /// router's, as a pulled uplink cable would.
    func setLANLink(_ node: Node, up: Bool) throws {
        try ip("link", "set", node.lanLink, up ? "up" : "down")
    }

    /// The network namespaces this topology made that still exist.
    var remainingNamespaces: [String] {
        let present = Set((try? FileManager.default.contentsOfDirectory(atPath: "/var/run/netns")) ?? [])
        return namespaces.filter { present.contains($0) }
    }

    /// Links of this topology still in the root namespace (the bridge and the root-side veths).
    var remainingLinks: [String] {
        ([bridge] + rootLinks).filter { FileManager.default.fileExists(atPath: "/sys/class/net/\($0)") }
    }

    // MARK: Teardown

    /// Deletes the namespaces (their veth ends and iptables rules with them), then what is left
    /// in the root namespace. Processes started in the namespaces must be stopped first, by PID.
    func tearDown() {
        for ns in namespaces.reversed() { _ = try? runProcess("/usr/sbin/ip", ["netns", "del", ns]) }
        for link in rootLinks where FileManager.default.fileExists(atPath: "/sys/class/net/\(link)") {
            _ = try? runProcess("/usr/sbin/ip", ["link", "del", link])
        }
        if bridgeCreated, FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)") {
            _ = try? runProcess("/usr/sbin/ip", ["link", "del", bridge])
        }
    }
}

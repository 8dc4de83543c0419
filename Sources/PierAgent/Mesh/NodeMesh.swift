import Foundation
import Logging
import PierCluster
import PierRuntime
import Synchronization

/// The node's side of the cluster network (its data plane): the subnet leased to it, which the
/// bridge hands addresses from; the masquerading of what leaves the cluster; the key pair; and
/// the mesh interface to the other nodes, configured from the peer sets the manager sends.
///
/// - WireGuard: one interface (the kernel's where it has WireGuard, else a supervised
///   `wireguard-go -f NAME`), its peers applied with `wg syncconf`, each peer's allowed
///   addresses routed into it. The interface's address is the first address of the node's
///   subnet (`10.89.3.0/32`: the bridge has `.1`, containers get `.2` on), so traffic the node
///   itself sends into the mesh carries a cluster source address that the peers route back.
/// - VXLAN (flannel's backend): a VXLAN link with that same address as its VTEP, a MAC derived
///   from the subnet, and per peer a permanent neighbour, a forwarding entry and a route.
///
/// Everything is re-read from the interface before it is changed, so an agent restart, a
/// changed peer set or a peer gone converges on the same state; an unchanged peer set does
/// nothing. The lease, the key and the last peer set are kept under the data root, so a
/// restarted agent brings the same mesh back without the manager.
public actor NodeMesh {
    public struct Configuration: Sendable {
        public var dataRoot: URL
        public var options: MeshOptions
        /// The bridge containers attach to (never counted as underlay).
        public var bridge: String
        /// Where the tools run (another network namespace in tests).
        public var commands: HostNetworkCommands

        public init(dataRoot: URL, options: MeshOptions = MeshOptions(), bridge: String = "pier0", commands: HostNetworkCommands = HostNetworkCommands()) {
            self.dataRoot = dataRoot; self.options = options; self.bridge = bridge; self.commands = commands
        }
    }

    public nonisolated let configuration: Configuration
    nonisolated let logger: Logger
    public nonisolated let leaseFile: NetworkLeaseFile
    private nonisolated let shared: Mutex<Shared>

    private struct Shared {
        var lease: NodeLease?
        var key: MeshKey?
        var keyLoaded = false
        var wireguard: String??
        var vxlan: Bool?
    }

    /// What was last applied to the interface.
    private struct Applied: Equatable {
        var dataPath: DataPath
        var peers: [MeshPeer]
        var subnet: IPv4Network
        var clusterRange: IPv4Network
        var mtu: Int
        var interface: String
        var relay: Bool
    }

    private var network: CNINetwork?
    private var applied: Applied?
    private var lastPeers: PeerSet?
    private var wireguardGo: (pid: Int32, interface: String)?
    private var watcher: Task<Void, Never>?
    private var stopping = false

    var meshDirectory: URL { configuration.dataRoot.appendingPathComponent("mesh") }
    nonisolated var keyURL: URL { configuration.dataRoot.appendingPathComponent("mesh/private.key") }
    var peersURL: URL { meshDirectory.appendingPathComponent("peers.json") }
    var pidURL: URL { meshDirectory.appendingPathComponent("wireguard-go.pid") }
    private nonisolated var host: HostNetwork { HostNetwork(commands: configuration.commands) }

    /// Reads the stored lease (a bad file is logged and ignored: the node then waits for the manager's).
    public init(configuration: Configuration, logger: Logger = Logger(label: "pier.mesh")) {
        self.configuration = configuration
        self.logger = logger
        leaseFile = NetworkLeaseFile(dataRoot: configuration.dataRoot)
        var lease: NodeLease?
        do { lease = try leaseFile.load() } catch { logger.error("cluster network: \(error); ignoring the stored lease") }
        shared = Mutex(Shared(lease: lease))
    }

    /// The lease the node holds (stored, or received since).
    public nonisolated var lease: NodeLease? { shared.withLock { $0.lease } }

    /// The node's key pair, made on first use and kept in `<dataRoot>/mesh/private.key`.
    public nonisolated var key: MeshKey? {
        shared.withLock { s in
            if !s.keyLoaded {
                s.keyLoaded = true
                do { s.key = try MeshKey.loadOrCreate(at: keyURL) } catch { logger.error("cluster network: \(error)") }
            }
            return s.key
        }
    }

    /// The interface names that are not underlay.
    private nonisolated var ownInterfaces: Set<String> {
        var names: Set<String> = [configuration.bridge, MeshOptions.defaultWireGuardInterface, MeshOptions.defaultVXLANInterface]
        if let name = configuration.options.interface { names.insert(name) }
        return names
    }

    /// The node's WireGuard and VXLAN support, found once.
    private nonisolated var capabilities: (wireguard: String?, vxlan: Bool) {
        if let known = shared.withLock({ s -> (String?, Bool)? in
            guard let w = s.wireguard, let v = s.vxlan else { return nil }
            return (w, v)
        }) { return known }
        let wireguard = host.wireguardSupport(probeName: "pier-wgprobe")
        let vxlan = host.vxlanSupport(probeName: "pier-vxprobe")
        shared.withLock { s in s.wireguard = .some(wireguard); s.vxlan = vxlan }
        return (wireguard, vxlan)
    }

    /// What the hello tells the manager about this node's network.
    public nonisolated func report() -> NodeNetworkReport {
        let underlay = host.underlay(excluding: ownInterfaces)
        let caps = capabilities
        return NodeNetworkReport(
            publicKey: key?.publicKey, listenPort: configuration.options.port,
            addresses: underlay.flatMap { $0.addresses.map(\.addressText) }, underlayMTU: host.primary(of: underlay)?.mtu,
            wireguard: caps.wireguard, vxlan: caps.vxlan, subnet: lease?.subnet, relay: configuration.options.relay)
    }

    /// The mesh's MTU on this node: `--node-mtu`, else the manager's, else the underlay's minus
    /// the tunnel's overhead (1500 assumed when it cannot be read).
    nonisolated func meshMTU(dataPath: DataPath, manager: Int?) -> Int {
        if let mtu = configuration.options.mtu { return mtu }
        if let manager { return manager }
        let underlay = host.underlay(excluding: ownInterfaces)
        let mtu = host.primary(of: underlay)?.mtu ?? 1500
        return max(MeshOptions.mtuRange.lowerBound, mtu - (dataPath == .wireguard ? WireGuardAddressing.overhead : VXLANAddressing.overhead))
    }

    /// The bridge network as the node's lease wants it: its subnet, no masquerading by the bridge
    /// (the agent's own rule does it, for what leaves the cluster), the mesh's MTU. Without a
    /// lease, `base` unchanged.
    public nonisolated func bridgeConfiguration(_ base: NetworkConfiguration) -> NetworkConfiguration {
        guard let lease else { return base }
        var c = base
        c.subnet = lease.subnet.description
        c.ipMasq = false
        c.mtu = meshMTU(dataPath: lease.dataPath, manager: lease.mtu)
        c.replaceBridgeAddress = true
        return c
    }

    /// The bridge network to switch when a lease arrives.
    public func attach(_ network: CNINetwork) { self.network = network }

    // MARK: Lease

    /// Takes the lease the manager sent: checked against the node's own networks (refused,
    /// changing nothing, when it overlaps one), stored, the bridge switched to it for new
    /// containers, the masquerading rule installed. A peer set that waited for it is applied.
    public func apply(lease: NodeLease) async throws(MeshError) {
        let underlay = host.underlay(excluding: ownInterfaces)
        try NetworkLeaseFile.check(lease, underlay: underlay.flatMap(\.addresses))
        if let clash = underlay.flatMap(\.addresses).first(where: { $0.network.overlaps(lease.clusterRange) }) {
            logger.warning("cluster network: the cluster range \(lease.clusterRange) overlaps this node's network \(clash); traffic to it is not masqueraded")
        }
        let previous = self.lease
        if previous != lease {
            try leaseFile.save(lease)
            shared.withLock { $0.lease = lease }
            if let previous, previous.subnet != lease.subnet {
                logger.warning("cluster network: the manager moved this node from \(previous.subnet) to \(lease.subnet)")
            }
        }
        if let network {
            let old = network.configuration
            let wanted = bridgeConfiguration(old)
            if wanted != old {
                do { try await network.reconfigure(wanted) } catch {
                    throw .storage("cannot switch the bridge network to \(wanted.subnet): \(error)")
                }
                logger.info(
                    "cluster network: new containers get addresses from \(wanted.subnet) (MTU \(wanted.mtu.map(String.init) ?? "default"), masquerading only what leaves \(lease.clusterRange)); containers started before keep their addresses on \(old.subnet) but lose their gateway: restart them to move them")
            }
        }
        try installChain(MeshFirewall.masquerade(subnet: lease.subnet, clusterRange: lease.clusterRange))
        if let lastPeers, applied == nil || applied?.subnet != lease.subnet { _ = try await apply(peers: lastPeers) }
    }

    // MARK: Peers

    /// Configures the mesh interface from `set`; returns the peers left out and why (the others
    /// are applied). An unchanged set does nothing. Waits for a lease when the node has none.
    @discardableResult
    public func apply(peers set: PeerSet) async throws(MeshError) -> [MeshError] {
        lastPeers = set
        guard let lease else {
            logger.info("cluster network: peer set kept until this node has a subnet")
            return []
        }
        let (peers, problems) = MeshPeerCheck.check(set, subnet: lease.subnet, ownKey: key?.publicKey)
        for problem in problems { logger.error("cluster network: \(problem)") }
        let interface = configuration.options.interfaceName(for: set.dataPath)
        let want = Applied(
            dataPath: set.dataPath, peers: peers, subnet: lease.subnet, clusterRange: set.clusterRange,
            mtu: meshMTU(dataPath: set.dataPath, manager: set.mtu ?? lease.mtu), interface: interface, relay: set.relay)
        if want == applied { return problems }
        if let applied, applied.interface != interface || applied.dataPath != set.dataPath { await removeInterface(applied.interface) }
        applied = nil
        switch set.dataPath {
        case .wireguard: try await applyWireGuard(want)
        case .vxlan: try applyVXLAN(want)
        }
        try run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        try installChain(MeshFirewall.forward(bridge: configuration.bridge, mesh: interface, subnet: lease.subnet,
                                              clusterRange: set.clusterRange, relay: set.relay))
        do { try MeshFiles.writeJSON(set, to: peersURL) } catch {
            logger.warning("cluster network: cannot keep the peer set in \(peersURL.path): \(error)")
        }
        applied = want
        logger.info("cluster network: \(interface) (\(set.dataPath.rawValue), MTU \(want.mtu)) has \(peers.count) peers")
        return problems
    }

    private func applyWireGuard(_ want: Applied) async throws(MeshError) {
        guard let key else { throw .unsupported("no mesh key (see the error above): WireGuard cannot start") }
        let interface = want.interface
        if !host.exists(interface) {
            switch capabilities.wireguard {
            case "kernel": try run(["ip", "link", "add", interface, "type", "wireguard"])
            case "wireguard-go": try await startWireGuardGo(interface)
            default:
                throw .unsupported("this node cannot run WireGuard: it needs wg (wireguard-tools) and the kernel module or wireguard-go with /dev/net/tun")
            }
        }
        let file = meshDirectory.appendingPathComponent("\(interface).conf")
        do {
            try MeshFiles.write(Data(WireGuardConfig.render(privateKey: key.privateKey, listenPort: configuration.options.port, peers: want.peers).utf8),
                                to: file, mode: 0o600)
        } catch { throw .storage("cannot write \(file.path): \(error)") }
        try run(["wg", "syncconf", interface, file.path])
        try setAddress(interface, subnet: want.subnet, mtu: want.mtu)
        try converge(interface, to: MeshLayout.wireguard(want.peers))
    }

    private func applyVXLAN(_ want: Applied) throws(MeshError) {
        guard capabilities.vxlan else { throw .unsupported("this node's kernel has no VXLAN") }
        let interface = want.interface
        let underlay = host.underlay(excluding: ownInterfaces)
        guard let primary = host.primary(of: underlay), let local = primary.addresses.first?.addressText else {
            throw .unsupported("no underlay IPv4 address for the VXLAN tunnel")
        }
        let mac = VXLANAddressing.vtepMAC(for: want.subnet)
        if let details = host.linkDetails(interface) {
            let info = details["linkinfo"] as? [String: Any]
            let data = info?["info_data"] as? [String: Any]
            let same = info?["info_kind"] as? String == "vxlan" && data?["id"] as? Int == VXLANAddressing.vni
                && data?["port"] as? Int == VXLANAddressing.port && data?["local"] as? String == local
                && (details["address"] as? String)?.lowercased() == mac
            if !same { try run(["ip", "link", "delete", interface]) }
        }
        if !host.exists(interface) {
            try run(["ip", "link", "add", interface, "address", mac, "type", "vxlan", "id", "\(VXLANAddressing.vni)",
                     "dstport", "\(VXLANAddressing.port)", "nolearning", "local", local, "dev", primary.name])
        }
        try setAddress(interface, subnet: want.subnet, mtu: want.mtu)
        try converge(interface, to: MeshLayout.vxlan(want.peers))
    }

    /// The interface's one address (the subnet's first, /32), its MTU, up.
    private func setAddress(_ interface: String, subnet: IPv4Network, mtu: Int) throws(MeshError) {
        let address = IPv4Network(address: subnet.first, prefix: 32)
        let current = host.underlay(excluding: []).first { $0.name == interface }?.addresses ?? []
        for stale in current where stale != address { try run(["ip", "address", "del", stale.description, "dev", interface]) }
        if !current.contains(address) { try run(["ip", "address", "replace", address.description, "dev", interface]) }
        try run(["ip", "link", "set", "dev", interface, "mtu", "\(mtu)", "up"])
    }

    /// Adds what `layout` lacks on the interface and removes what it no longer has.
    private func converge(_ interface: String, to layout: MeshLayout) throws(MeshError) {
        let c = configuration.commands
        let observed = MeshLayout.observed(
            routes: c.run("ip", ["-j", "route", "show", "dev", interface]).stdout,
            neighbours: c.run("ip", ["-j", "neigh", "show", "dev", interface]).stdout,
            forwarding: c.run("bridge", ["-j", "fdb", "show", "dev", interface]).stdout)
        var first: MeshError?
        for command in layout.commands(interface: interface, from: observed) {
            do { try run(command) } catch {
                logger.error("cluster network: \(error)")
                if first == nil { first = error }
            }
        }
        if let first { throw first }
    }

    // MARK: wireguard-go

    /// wireguard-go's control socket: one per interface name, whatever the network namespace.
    private nonisolated func socketPath(_ interface: String) -> String { "/var/run/wireguard/\(interface).sock" }

    /// Starts `wireguard-go -f NAME` and waits for its interface and control socket; watches it,
    /// and when it dies (not stopped by the agent) starts it again and re-applies the peers.
    private func startWireGuardGo(_ interface: String) async throws(MeshError) {
        try? FileManager.default.createDirectory(at: meshDirectory, withIntermediateDirectories: true)
        let pid: Int32
        do {
            pid = try configuration.commands.spawn(
                "wireguard-go", ["-f", interface], environment: ["LOG_LEVEL": "error"],
                logPath: meshDirectory.appendingPathComponent("wireguard-go.log").path)
        } catch { throw .unsupported("cannot start wireguard-go: \(error)") }
        wireguardGo = (pid, interface)
        try? MeshFiles.write(Data("\(pid) \(interface)\n".utf8), to: pidURL, mode: 0o600)
        watch(pid)
        let deadline = ContinuousClock.now + .seconds(10)
        while !(host.exists(interface) && FileManager.default.fileExists(atPath: socketPath(interface))) {
            guard ProcessWatcher.isRunning(pid: pid) else {
                throw .commandFailed(command: "wireguard-go -f \(interface)", message: "ended at start (see \(meshDirectory.path)/wireguard-go.log)")
            }
            guard ContinuousClock.now < deadline else {
                throw .commandFailed(command: "wireguard-go -f \(interface)", message: "no interface and control socket after 10 s")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        logger.info("cluster network: wireguard-go runs \(interface) (pid \(pid))")
    }

    private func watch(_ pid: Int32) {
        watcher?.cancel()
        watcher = Task { [weak self] in
            let exit = await ProcessWatcher.waitForExit(pid: pid)
            await self?.wireguardGoEnded(pid: pid, exit: exit)
        }
    }

    private func wireguardGoEnded(pid: Int32, exit: ProcessExit) async {
        guard !stopping, let running = wireguardGo, running.pid == pid else { return }
        logger.warning("cluster network: wireguard-go for \(running.interface) (pid \(pid)) ended (\(exit)); starting it again")
        wireguardGo = nil
        applied = nil
        try? await Task.sleep(for: .seconds(1))
        guard !stopping, wireguardGo == nil, let lastPeers else { return }
        do { try await apply(peers: lastPeers) } catch { logger.error("cluster network: \(error)") }
    }

    /// The pid of the wireguard-go the agent runs, if it runs one.
    public var wireguardGoPID: Int32? { wireguardGo?.pid }

    /// Takes over a wireguard-go a previous agent left running for the interface.
    private func adoptWireGuardGo() {
        guard wireguardGo == nil, let text = try? String(contentsOf: pidURL, encoding: .utf8) else { return }
        let fields = text.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard fields.count == 2, let pid = Int32(fields[0]), pid > 0, ProcessWatcher.isRunning(pid: pid),
            let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
            cmdline.split(separator: "\0").contains(where: { $0.hasSuffix("wireguard-go") }), cmdline.split(separator: "\0").last.map(String.init) == fields[1]
        else { return }
        wireguardGo = (pid, fields[1])
        watch(pid)
        logger.info("cluster network: adopted wireguard-go for \(fields[1]) (pid \(pid))")
    }

    // MARK: Start and stop

    /// At agent start: the masquerading rule of a stored lease, and the last peer set again
    /// (the manager may be unreachable), with a wireguard-go a previous agent left adopted.
    public func resume() async {
        stopping = false
        adoptWireGuardGo()
        guard let lease else { return }
        do {
            try installChain(MeshFirewall.masquerade(subnet: lease.subnet, clusterRange: lease.clusterRange))
            if let stored = try MeshFiles.readJSON(PeerSet.self, from: peersURL), lastPeers == nil {
                try await apply(peers: stored)
            }
        } catch {
            logger.error("cluster network: \(error)")
        }
    }

    /// Removes the mesh: the interface (wireguard-go stopped), its routes, the agent's iptables
    /// chains. The lease, the key and the peer set stay (a node keeps them across restarts).
    /// Returns what could not be removed.
    public func tearDown() async -> [String] {
        stopping = true
        watcher?.cancel()
        var problems: [String] = []
        if let applied { problems += await removeInterface(applied.interface) }
        for name in ownInterfaces.subtracting([configuration.bridge]) where host.exists(name) { problems += await removeInterface(name) }
        applied = nil
        for chain in [("nat", MeshFirewall.natChain, "POSTROUTING"), ("filter", MeshFirewall.filterChain, "FORWARD")] {
            let commands = MeshFirewall.remove(table: chain.0, name: chain.1, parent: chain.2)
            let exists = configuration.commands.run("iptables", ["-w", "-t", chain.0, "-S", chain.1]).succeeded
            guard exists else { continue }
            for command in commands {
                let out = configuration.commands.run(command[0], Array(command.dropFirst()))
                if !out.succeeded && command.contains("-X") { problems.append("\(out.command): \(out.problem)") }
            }
        }
        return problems
    }

    /// Deletes the interface (stopping wireguard-go if it runs it); its routes go with it.
    @discardableResult
    private func removeInterface(_ interface: String) async -> [String] {
        var problems: [String] = []
        if let running = wireguardGo, running.interface == interface {
            wireguardGo = nil
            kill(running.pid, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(2)
            while ProcessWatcher.isRunning(pid: running.pid) && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            if ProcessWatcher.isRunning(pid: running.pid) { kill(running.pid, SIGKILL) }
            unlink(pidURL.path)
            unlink(socketPath(interface))
        }
        if host.exists(interface) {
            let out = configuration.commands.run("ip", ["link", "delete", interface])
            if !out.succeeded && host.exists(interface) { problems.append("\(out.command): \(out.problem)") }
        }
        if applied?.interface == interface { applied = nil }
        return problems
    }

    // MARK: Commands

    /// Makes `chain` hold its rules, changing nothing when it already does.
    private func installChain(_ chain: MeshFirewall.Chain) throws(MeshError) {
        let c = configuration.commands
        let base = ["-w", "-t", chain.table]
        let listing = c.run("iptables", base + ["-S", chain.name])
        let exists = listing.succeeded
        let jump = c.run("iptables", base + ["-C", chain.parent, "-j", chain.name]).succeeded
        let ruleLines = listing.stdout.split(separator: "\n").filter { $0.hasPrefix("-A ") }.count
        let rules = exists && ruleLines == chain.rules.count
            && chain.rules.allSatisfy { c.run("iptables", base + ["-C", chain.name] + $0).succeeded }
        for command in MeshFirewall.install(chain, jumpPresent: jump, rulesPresent: rules, chainExists: exists) { try run(command) }
    }

    private func run(_ argv: [String]) throws(MeshError) {
        let out = configuration.commands.run(argv[0], Array(argv.dropFirst()))
        guard out.succeeded else { throw .commandFailed(command: out.command, message: out.problem) }
    }
}

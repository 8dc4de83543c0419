import Foundation
import Testing

/// One `pier manager` and three `pier agent`s, each agent in its own network namespace,
/// all on a test bridge in the root namespace:
///
///     root ns: bridge pcl<tag> 10.216.N.1/24 ── pier manager (tcp://10.216.N.1:PORT + unix socket)
///        │ veth pcv<tag>a / pcv<tag>b / pcv<tag>c
///     ns pier-t<tag>-a: 10.216.N.11  pier agent --hostname node-a --bridge pit… 10.214.Y.0/24
///     ns pier-t<tag>-b: 10.216.N.12  node-b
///     ns pier-t<tag>-c: 10.216.N.13  node-c
///
/// Everything it creates is removed by `tearDown()`, which tests call in a `defer`.
final class TestCluster: @unchecked Sendable {
    /// One agent: its namespace, link, data root and process.
    final class Member: @unchecked Sendable {
        let name: String
        let namespace: String
        /// The root-namespace end of the agent's veth pair (what "cutting the link" takes down).
        let vethHost: String
        let vethPeer: String
        let address: String
        let root: URL
        let bridge: String
        let subnetPrefix: String
        var process: Process?
        /// When set, the agent also serves its API at tcp://ADDRESS:PORT with mutual TLS (CPIS).
        var directPort: Int?
        var direct: String? { directPort.map { "tcp://\(address):\($0)" } }
        var socket: String { root.appendingPathComponent("pier.sock").path }
        var host: String { "unix://" + socket }

        init(name: String, namespace: String, vethHost: String, vethPeer: String, address: String, root: URL, bridge: String, subnetPrefix: String) {
            self.name = name; self.namespace = namespace; self.vethHost = vethHost; self.vethPeer = vethPeer
            self.address = address; self.root = root; self.bridge = bridge; self.subnetPrefix = subnetPrefix
        }
    }

    static let image = "test/busybox:1"

    let tag: String
    let root: URL
    let bridge: String
    let net: Int
    let port: Int
    let managerRoot: URL
    let managerBridge: String
    private(set) var managerProcess: Process?
    /// Extra arguments of every `pier manager` start (e.g. `--cert-expiry`).
    var managerArguments: [String] = []
    /// Extra arguments of every `pier agent` start (e.g. `--trust-key`).
    var agentExtraArguments: [String] = []
    private(set) var members: [Member] = []
    private(set) var token = ""
    private var namespaces: [String] = []
    private var bridgeCreated = false

    var managerAddress: String { "tcp://10.216.\(net).1:\(port)" }
    var managerSocket: String { managerRoot.appendingPathComponent("pier.sock").path }
    var managerHost: String { "unix://" + managerSocket }

    /// Builds the topology, starts the manager, builds the busybox image on it and joins
    /// three agents; returns once the three nodes are ready.
    static func start(agents: Int = 3, directPort: Int? = nil, managerArguments: [String] = [], agentArguments: [String] = []) throws -> TestCluster {
        let cluster = try TestCluster()
        cluster.managerArguments = managerArguments
        cluster.agentExtraArguments = agentArguments
        do {
            try cluster.setUpNetwork(agents: agents)
            for m in cluster.members { m.directPort = directPort }
            try cluster.startManager()
            try cluster.buildImage()
            cluster.token = try cluster.ok("join-token", "-q", "worker").trimmingCharacters(in: .whitespacesAndNewlines)
            for m in cluster.members { try cluster.startAgent(m, token: cluster.token) }
            try cluster.waitForReadyNodes(agents)
        } catch {
            cluster.tearDown()
            throw error
        }
        return cluster
    }

    private init() throws {
        tag = String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(6)).lowercased()
        root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-cl-\(tag)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        bridge = "pcl" + tag
        let used = (try? runProcess("/usr/sbin/ip", ["-4", "-o", "addr"]).stdout) ?? ""
        net = (0..<40).lazy.map { _ in Int.random(in: 1...254) }.first { !used.contains("10.216.\($0).") } ?? Int.random(in: 1...254)
        port = Int.random(in: 30000...45000)
        managerRoot = root.appendingPathComponent("manager")
        managerBridge = "pit" + tag + "m0"
    }

    // MARK: Network

    private func ip(_ args: String...) throws {
        let r = try runProcess("/usr/sbin/ip", args, timeout: 20)
        guard r.status == 0 else { throw TestFailure("ip \(args.joined(separator: " ")) failed: \(r.stderr)") }
    }

    private func setUpNetwork(agents: Int) throws {
        try ip("link", "add", bridge, "type", "bridge")
        bridgeCreated = true
        try ip("addr", "add", "10.216.\(net).1/24", "dev", bridge)
        try ip("link", "set", bridge, "up")
        for (index, letter) in ["a", "b", "c", "d"].prefix(agents).enumerated() {
            let ns = "pier-t\(tag)-\(letter)"
            try ip("netns", "add", ns)
            namespaces.append(ns)
            let member = Member(
                name: "node-\(letter)", namespace: ns, vethHost: "pcv\(tag)\(letter)", vethPeer: "pcp\(tag)\(letter)",
                address: "10.216.\(net).\(11 + index)", root: root.appendingPathComponent("agent-\(letter)"),
                bridge: "pit\(tag)\(letter)0", subnetPrefix: "10.214.\(Int.random(in: 0...255))")
            try FileManager.default.createDirectory(at: member.root, withIntermediateDirectories: true)
            try ip("link", "add", member.vethHost, "type", "veth", "peer", "name", member.vethPeer, "netns", ns)
            try ip("link", "set", member.vethHost, "master", bridge)
            try ip("link", "set", member.vethHost, "up")
            try ip("-n", ns, "addr", "add", member.address + "/24", "dev", member.vethPeer)
            try ip("-n", ns, "link", "set", member.vethPeer, "up")
            try ip("-n", ns, "link", "set", "lo", "up")
            members.append(member)
        }
    }

    /// Takes an agent's link down or up from the root side, as a pulled cable would.
    func setLink(_ member: Member, up: Bool) throws {
        try ip("link", "set", member.vethHost, up ? "up" : "down")
    }

    func member(_ name: String) throws -> Member {
        guard let m = members.first(where: { $0.name == name }) else { throw TestFailure("no member \(name)") }
        return m
    }

    // MARK: Processes

    private static func logHandle(_ url: URL) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        return handle
    }

    var managerLog: URL { managerRoot.appendingPathComponent("manager.log") }

    /// Starts (or restarts, on the same data root) the manager and waits for its socket.
    func startManager() throws {
        try FileManager.default.createDirectory(at: managerRoot, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = Binaries.pier
        p.arguments = ["manager", "--data-root", managerRoot.path, "--listen", managerHost, "--listen", managerAddress,
                       "--shim", Binaries.shim.path, "--bridge", managerBridge, "--bridge-subnet", "10.215.\(net).0/24",
                       "--hostname", "manager", "--heartbeat", "1", "--heartbeat-grace", "5"] + managerArguments
        let handle = try Self.logHandle(managerLog)
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        managerProcess = p
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: managerSocket), (try? runProcess(Binaries.pier.path, ["node", "ls", "-q"], env: ["PIER_HOST": managerHost], timeout: 10, timeoutIsFailure: false))?.status == 0 { return }
            guard p.isRunning else { break }
            usleep(50_000)
        }
        throw TestFailure("manager did not come up; its log:\n" + log(managerLog))
    }

    /// SIGKILL the manager, as a power cut would.
    func killManager() {
        guard let p = managerProcess, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        managerProcess = nil
    }

    func agentLog(_ m: Member) -> URL { m.root.appendingPathComponent("agent.log") }

    /// The arguments of `nsenter` that run `pier agent` for a member inside its network namespace.
    /// Not `ip netns exec`: that also makes a mount namespace and remounts /sys, which hides
    /// /sys/fs/cgroup from runc.
    func agentArguments(_ m: Member, token: String?) -> [String] {
        var args = ["--net=/var/run/netns/\(m.namespace)", "--", Binaries.pier.path, "agent", "--data-root", m.root.path, "--listen", m.host,
                    "--shim", Binaries.shim.path, "--bridge", m.bridge, "--bridge-subnet", m.subnetPrefix + ".0/24", "--hostname", m.name]
        if let direct = m.direct { args += ["--listen", direct] }
        // wireguard-go's control socket is global (/var/run/wireguard/NAME.sock): one name per member.
        args += ["--mesh-interface", meshInterface(m)]
        if let token {
            // From a file, as users are told to: a token on the command line is refused.
            let file = m.root.deletingLastPathComponent().appendingPathComponent("\(m.name)-join-token")
            FileManager.default.createFile(atPath: file.path, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
            args += ["--join", managerAddress, "--token-file", file.path]
        }
        return args + agentExtraArguments
    }

    /// Starts an agent in its namespace (joining with `token` on its first start) and waits for its socket.
    func startAgent(_ m: Member, token: String?) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        p.arguments = agentArguments(m, token: token)
        let handle = try Self.logHandle(agentLog(m))
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        m.process = p
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: m.socket), (try? runProcess(Binaries.pier.path, ["info"], env: ["PIER_HOST": m.host], timeout: 10, timeoutIsFailure: false))?.status == 0 { return }
            guard p.isRunning else { break }
            usleep(50_000)
        }
        throw TestFailure("agent \(m.name) did not come up; its log:\n" + log(agentLog(m)))
    }

    /// SIGKILL an agent (`nsenter` execs it, so the pid is the agent's).
    func kill9(_ m: Member) {
        guard let p = m.process, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        m.process = nil
    }

    private static func stop(_ p: Process?) {
        guard let p, p.isRunning else { return }
        kill(p.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    /// The member's mesh interface: `pcw`, the cluster's tag and the member's letter.
    func meshInterface(_ m: Member) -> String { "pcw\(tag)\(m.name.suffix(1))" }

    /// SIGKILL the wireguard-go a data root's agent started (it outlives the agent on purpose, as
    /// containers do), and remove its control socket.
    static func killMesh(dataRoot: URL, interface: String) {
        let pidFile = dataRoot.appendingPathComponent("mesh/wireguard-go.pid")
        if let text = try? String(contentsOf: pidFile, encoding: .utf8),
           let first = text.split(whereSeparator: \.isWhitespace).first, let pid = Int32(first), pid > 1,
           let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")),
           String(decoding: cmdline, as: UTF8.self).contains("wireguard-go") {
            kill(pid, SIGKILL)
        }
        unlink("/var/run/wireguard/\(interface).sock")
    }

    /// SIGKILL the dnsmasq a data root's agent started, if it still runs.
    static func killResolver(dataRoot: URL) {
        let dns = dataRoot.appendingPathComponent("dns")
        guard let text = try? String(contentsOf: dns.appendingPathComponent("dnsmasq.pid"), encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
            let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")),
            String(decoding: cmdline, as: UTF8.self).contains(dns.path)
        else { return }
        kill(pid, SIGKILL)
    }

    func log(_ url: URL) -> String {
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return String(text.suffix(6000))
    }

    // MARK: CLI

    /// The CLI against the manager's admin socket.
    @discardableResult
    func pier(_ args: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        try runProcess(Binaries.pier.path, args, env: ["PIER_HOST": managerHost], timeout: timeout)
    }

    @discardableResult
    func pier(_ args: String...) throws -> CommandResult { try pier(args) }

    /// Like `pier`, but records a test issue when the command fails.
    @discardableResult
    func ok(_ args: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try ok(args, sourceLocation: sourceLocation)
    }

    @discardableResult
    func ok(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try pier(args)
        #expect(r.status == 0, "pier \(args.joined(separator: " ")) failed: \(r.stderr)", sourceLocation: sourceLocation)
        return r.stdout
    }

    /// The CLI against one agent's own socket.
    @discardableResult
    func agentPier(_ m: Member, _ args: [String], timeout: TimeInterval = 30) throws -> CommandResult {
        try runProcess(Binaries.pier.path, args, env: ["PIER_HOST": m.host], timeout: timeout)
    }

    private func buildImage() throws {
        let ctx = root.appendingPathComponent("ctx")
        let bin = ctx.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: bin.appendingPathComponent("busybox").path)
        for tool in ["sh", "true", "false", "echo", "cat", "sleep", "ls"] {
            try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent(tool).path, withDestinationPath: "busybox")
        }
        defer { try? FileManager.default.removeItem(at: ctx) }
        let r = try pier(["image", "build", "--tag", Self.image, "--from", "scratch", "--add", "\(bin.path):/bin",
                          "--env", "PATH=/bin", "--cmd", "[\"/bin/sh\"]"])
        guard r.status == 0 else { throw TestFailure("image build on the manager failed: \(r.stderr)") }
    }

    // MARK: Reading state

    func nodes() throws -> [NodeView] { try decode([NodeView].self, pier("node", "ls", "--format", "json")) }

    func tasks(_ service: String) throws -> [TaskView] {
        try decode([TaskView].self, pier("service", "ps", service, "--format", "json"))
    }

    /// Tasks of the service that the manager holds as running.
    func running(_ service: String) throws -> [TaskView] {
        try tasks(service).filter { $0.status.state == "running" && $0.desiredState == "running" }
    }

    func inspectService(_ service: String) throws -> ServiceView {
        let list = try decode([ServiceView].self, pier("service", "inspect", service))
        guard let s = list.first else { throw TestFailure("service inspect \(service) returned nothing") }
        return s
    }

    /// The task ids of the containers really running on an agent (`pier ps` on its socket).
    func runningContainers(_ m: Member) throws -> [String] {
        let r = try agentPier(m, ["ps", "--format", "json"])
        guard r.status == 0 else { throw TestFailure("pier ps on \(m.name) failed: \(r.stderr)") }
        let list = try JSONDecoder().decode([ContainerView].self, from: Data(r.stdout.utf8))
        return list.filter { $0.state == "running" }.compactMap { $0.labels["pier.task.id"] }
    }

    /// Running task containers per node, for the members whose agent is up.
    func containersByNode() throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for m in members where m.process != nil { out[m.name] = try runningContainers(m) }
        return out
    }

    func nodeID(_ name: String) throws -> String {
        guard let n = try nodes().first(where: { $0.description.hostname == name }) else { throw TestFailure("no node \(name)") }
        return n.id
    }

    private func decode<T: Decodable>(_ type: T.Type, _ r: CommandResult) throws -> T {
        guard r.status == 0 else { throw TestFailure("pier failed: \(r.stderr)") }
        do { return try JSONDecoder().decode(type, from: Data(r.stdout.utf8)) } catch {
            throw TestFailure("cannot read \(T.self) from: \(r.stdout.prefix(2000)) (\(error))")
        }
    }

    /// Polls `condition` until it holds or `timeout` passes; returns whether it held.
    @discardableResult
    func waitUntil(_ timeout: TimeInterval, every interval: TimeInterval = 0.1, _ condition: () throws -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if (try? condition()) == true { return true }
            usleep(UInt32(interval * 1_000_000))
        } while Date() < deadline
        return false
    }

    func waitForReadyNodes(_ count: Int) throws {
        guard waitUntil(20, { try nodes().filter { $0.state == "ready" }.count == count }) else {
            let logs = members.map { "--- \($0.name):\n" + log(agentLog($0)) }.joined(separator: "\n")
            throw TestFailure("\(count) nodes did not become ready: \((try? pier("node", "ls").stdout) ?? "")\n\(logs)\n--- manager:\n\(log(managerLog))")
        }
    }

    /// A readable dump for failure messages.
    func describe(_ service: String) -> String {
        let ps = (try? pier("service", "ps", service, "--no-trunc").stdout) ?? ""
        let nodes = (try? pier("node", "ls").stdout) ?? ""
        let containers = (try? containersByNode()).map { "\($0)" } ?? ""
        return "\(nodes)\n\(ps)\ncontainers: \(containers)"
    }

    // MARK: Teardown

    /// Removes services, stops agents and manager by pid, removes leftover containers with
    /// runc, then the namespaces, veths, bridge and directories.
    func tearDown() {
        if managerProcess != nil {
            let services = (try? pier("service", "ls", "-q").stdout.split(separator: "\n").map(String.init)) ?? []
            for s in services where !s.isEmpty { _ = try? pier("service", "rm", s) }
            if !services.isEmpty {
                waitUntil(5) { try members.filter { $0.process != nil }.allSatisfy { try runningContainers($0).isEmpty } }
            }
        }
        for m in members where m.process != nil {
            if let ids = try? agentPier(m, ["ps", "-a", "-q"]).stdout.split(separator: "\n") {
                for id in ids { _ = try? agentPier(m, ["rm", "-f", String(id)]) }
            }
        }
        for m in members {
            Self.stop(m.process)
            m.process = nil
        }
        Self.stop(managerProcess)
        managerProcess = nil
        // The resolvers of agents killed during a test (their pid files name them).
        for dir in members.map(\.root) + [managerRoot] { Self.killResolver(dataRoot: dir) }
        for m in members { Self.killMesh(dataRoot: m.root, interface: meshInterface(m)) }
        // Containers of agents killed during a test are still running: runc removes them.
        for dir in members.map(\.root) + [managerRoot] {
            let runcRoot = dir.appendingPathComponent("runc").path
            guard FileManager.default.fileExists(atPath: runcRoot) else { continue }
            let ids = (try? runProcess("/usr/sbin/runc", ["--root", runcRoot, "list", "-q"]).stdout.split(separator: "\n")) ?? []
            for id in ids {
                _ = try? runProcess("/usr/sbin/runc", ["--root", runcRoot, "kill", String(id), "KILL"])
                _ = try? runProcess("/usr/sbin/runc", ["--root", runcRoot, "delete", "-f", String(id)])
            }
        }
        // Network namespaces that killed agents left (containers', pooled ones), named in their CNI state.
        for dir in members.map(\.root) + [managerRoot] {
            let results = dir.appendingPathComponent("cni/results")
            for name in (try? FileManager.default.contentsOfDirectory(atPath: results.path)) ?? [] {
                guard let data = try? Data(contentsOf: results.appendingPathComponent(name)),
                    let state = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                    let namespace = state["namespace"] as? String
                else { continue }
                _ = try? runProcess("/usr/sbin/ip", ["netns", "del", namespace])
            }
        }
        for ns in namespaces { _ = try? runProcess("/usr/sbin/ip", ["netns", "del", ns]) }
        for m in members where FileManager.default.fileExists(atPath: "/sys/class/net/\(m.vethHost)") {
            _ = try? runProcess("/usr/sbin/ip", ["link", "del", m.vethHost])
        }
        if bridgeCreated { _ = try? runProcess("/usr/sbin/ip", ["link", "del", bridge]) }
        if FileManager.default.fileExists(atPath: "/sys/class/net/\(managerBridge)") {
            _ = try? runProcess("/usr/sbin/ip", ["link", "del", managerBridge])
        }
        // Read to the end: a /proc file reports no size, and String(contentsOfFile:) reads only its first page.
        let mounts = String(decoding: (try? FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/mountinfo")).readToEnd()) ?? Data(), as: UTF8.self)
        let below = mounts.split(separator: "\n").compactMap { line -> String? in
            let f = line.split(separator: " ")
            return f.count > 4 && f[4].hasPrefix(root.path) ? String(f[4]) : nil
        }
        for m in below.reversed() { umount2(m, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(at: root)
    }
}

// MARK: The JSON the CLI prints (only the fields the tests read)

struct NodeView: Decodable {
    struct Description: Decodable { var hostname: String }
    var id: String
    var availability: String
    var state: String
    var message: String?
    var description: Description
}

struct TaskView: Decodable {
    struct Status: Decodable {
        var state: String
        var message: String
        var error: String?
    }
    var id: String
    var slot: Int?
    var nodeID: String?
    var desiredState: String
    var serviceVersion: Int
    var status: Status
    var health: String?
}

struct ServiceView: Decodable {
    struct Spec: Decodable {
        struct Mode: Decodable {
            var mode: String
            var replicas: Int?
        }
        struct Task: Decodable {
            struct Container: Decodable {
                var image: String
                var health: Health?
            }
            struct Health: Decodable { var command: [String] }
            var container: Container
        }
        var name: String
        var labels: [String: String]?
        var mode: Mode
        var task: Task
    }
    struct Update: Decodable {
        var state: String
        var message: String
    }
    var id: String
    var spec: Spec
    var version: Int
    var updateStatus: Update?
}

struct ContainerView: Decodable {
    var id: String
    var state: String
    var labels: [String: String]
}

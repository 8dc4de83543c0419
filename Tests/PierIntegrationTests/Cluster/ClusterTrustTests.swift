import Foundation
import Testing

/// Trust boundaries inside a cluster, tried from the outside with real daemons: what is on disk
/// and with which modes, a member's key posing as the manager, and a CA rotation under load.
@Suite(.serialized, .integrationHost, .timeLimit(.minutes(10)))
struct ClusterTrustTests {
    static let image = TestCluster.image
    static let command = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]

    static func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? nil
    }

    /// Secrets are readable by root alone, the join token is not stored (only its digest), and a
    /// data root left by an older version with 0755/0644 modes is closed at the next start.
    @Test func secretsAreOwnerOnlyAndJoinTokensAreNotStored() throws {
        let cluster = try TestCluster.start(agents: 1)
        defer { cluster.tearDown() }
        let a = try cluster.member("node-a")
        func expectModes() {
            let m = cluster.managerRoot.path
            for (path, expected) in [
                (m, 0o700), (m + "/manager.db", 0o600), (m + "/pki", 0o700), (m + "/pki/ca-key.pem", 0o600),
                (m + "/pki/registry-token.key", 0o600), (cluster.managerSocket, 0o660),
                (a.root.path, 0o700), (a.root.path + "/agent.db", 0o600), (a.root.path + "/cluster/node-key.pem", 0o600), (a.socket, 0o660),
            ] {
                #expect(Self.mode(path) == expected, "\(path): mode \(Self.mode(path).map { String($0, radix: 8) } ?? "missing"), expected \(String(expected, radix: 8))")
            }
            for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: m + "/manager.db" + suffix) {
                #expect(Self.mode(m + "/manager.db" + suffix) == 0o600, "manager.db\(suffix)")
            }
        }
        expectModes()

        // The token that joined node-a: neither it nor its secret is anywhere in the state store.
        let token = cluster.token
        let secret = String(token.split(separator: "-").last ?? "")
        #expect(secret.count == 25)
        for file in ["manager.db", "manager.db-wal"] {
            guard let bytes = FileManager.default.contents(atPath: cluster.managerRoot.appendingPathComponent(file).path) else { continue }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(!text.contains(secret), "\(file) holds the join token's secret")
        }
        // Shown once: `join-token` makes a new one each time and says how to pass it.
        let again = try cluster.ok("join-token", "worker")
        #expect(again.contains("PIER_JOIN_TOKEN=") && !again.contains(token), "\(again)")

        // On the command line, the token is refused with the reason and the way to pass it.
        let onArgv = try runProcess(Binaries.pier.path, ["agent", "--data-root", cluster.root.appendingPathComponent("argv").path,
                                                          "--join", cluster.managerAddress, "--token", token])
        #expect(onArgv.status != 0 && onArgv.stderr.contains("--token-file"), "\(onArgv.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cluster.root.appendingPathComponent("argv/cluster").path))

        // An older layout, world-readable: closed again by the next start of each daemon.
        cluster.killManager()
        chmod(cluster.managerRoot.path, 0o755)
        chmod(cluster.managerRoot.path + "/manager.db", 0o644)
        chmod(cluster.managerRoot.path + "/pki", 0o755)
        try cluster.startManager()
        cluster.kill9(a)
        chmod(a.root.path, 0o755)
        chmod(a.root.path + "/agent.db", 0o644)
        try cluster.startAgent(a, token: nil)
        try cluster.waitForReadyNodes(1)
        expectModes()
    }

    /// A member's own key (a compromised worker) cannot pose as the manager: the CLI and a
    /// joining agent both check for the manager's role in the certificate and stop at the TLS
    /// handshake, before sending anything.
    @Test func aWorkerKeyCannotPoseAsTheManager() throws {
        let cluster = try TestCluster.start(agents: 1)
        defer { cluster.tearDown() }
        let a = try cluster.member("node-a")
        let node = a.root.appendingPathComponent("cluster")
        let port = cluster.port + 1
        // The impostor: a TLS server with node-a's certificate and key, on node-a's address.
        let impostor = Process()
        impostor.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        impostor.arguments = ["--net=/var/run/netns/\(a.namespace)", "--", "/usr/bin/openssl", "s_server", "-quiet", "-www",
                              "-accept", "\(a.address):\(port)", "-cert", node.path + "/node.pem", "-key", node.path + "/node-key.pem"]
        let log = cluster.root.appendingPathComponent("impostor.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        impostor.standardOutput = handle
        impostor.standardError = handle
        try impostor.run()
        // SIGKILL: the child inherits the test runner's signal mask, in which SIGTERM is blocked.
        defer { kill(impostor.processIdentifier, SIGKILL); impostor.waitUntilExit() }
        #expect(cluster.waitUntil(10) {
            (try runProcess("/usr/bin/nsenter", ["--net=/var/run/netns/\(a.namespace)", "--", "/usr/bin/ss", "-ltn"]).stdout).contains(":\(port)")
        })
        let address = "tcp://\(a.address):\(port)"

        // The CLI with an admin certificate of the cluster: refuses the server.
        let admin = cluster.root.appendingPathComponent("admin").path
        try cluster.ok("cert", "create", "admin", "--role", "admin", "--expires", "1h", "-o", admin)
        let listed = try runProcess(Binaries.pier.path, ["--host", address, "--tls-dir", admin, "service", "ls"], env: ["PIER_HOST": "unix:///nonexistent"], timeout: 30)
        #expect(listed.status != 0)
        #expect(listed.stderr.contains("pier-manager"), "the refusal should name the missing role: \(listed.stderr)")
        // The same certificate reaches the real manager (so the refusal was about the impostor).
        let real = try runProcess(Binaries.pier.path, ["--host", cluster.managerAddress, "--tls-dir", admin, "service", "ls"], env: ["PIER_HOST": "unix:///nonexistent"], timeout: 30)
        #expect(real.status == 0, "\(real.stderr)")

        // A new device joining with a real token but the impostor's address: refused, nothing stored.
        let newcomer = TestCluster.Member(
            name: "newcomer", namespace: a.namespace, vethHost: "", vethPeer: "", address: "",
            root: cluster.root.appendingPathComponent("newcomer"), bridge: "pit\(cluster.tag)n0", subnetPrefix: "10.214.\(cluster.net)")
        let args = cluster.agentArguments(newcomer, token: cluster.token).map { $0 == cluster.managerAddress ? address : $0 }
        #expect(args.contains(address))
        let joined = try runProcess("/usr/bin/nsenter", args, timeout: 30)
        #expect(joined.status != 0)
        #expect((joined.stdout + joined.stderr).contains("manager"), "the refusal should say why: \(joined.stdout + joined.stderr)")
        #expect(!FileManager.default.fileExists(atPath: newcomer.root.appendingPathComponent("cluster/node.pem").path))
        #expect(try cluster.nodes().count == 1)
        _ = try? runProcess("/usr/sbin/ip", ["link", "del", newcomer.bridge])
    }

    /// `pier ca rotate` under a running service: every node renews from the new CA over its
    /// session, the old root is dropped once all have, and no session or container is lost.
    @Test func caRotationKeepsSessionsAndContainers() throws {
        let cluster = try TestCluster.start(agents: 2)
        defer { cluster.tearDown() }
        try cluster.ok(["service", "create", "--name", "web", "--replicas", "2", "--network", "none", Self.image] + Self.command)
        #expect(cluster.waitUntil(60) { try cluster.running("web").count == 2 }, "\((try? cluster.tasks("web")) ?? [])")
        let before = try cluster.containersByNode()
        let a = try cluster.member("node-a")
        let caFile = a.root.appendingPathComponent("cluster/ca.pem").path
        let oldCA = try String(contentsOfFile: caFile, encoding: .utf8)
        let oldFingerprint = try #require(try cluster.ok("ca", "status").split(separator: "\n").first).split(separator: " ").last.map(String.init)

        let started = try cluster.ok("ca", "rotate")
        #expect(started.contains("rotating from CA"), "\(started)")
        let done = cluster.waitUntil(90, every: 1) {
            let status = try cluster.ok("ca", "status", "--json")
            return !status.contains("\"rotation\"")
        }
        #expect(done, "the rotation did not finish: \((try? cluster.ok("ca", "status")) ?? "")\n\(cluster.log(cluster.managerLog))")
        let status = try cluster.ok("ca", "status")
        #expect(status.contains("no rotation under way") && !status.contains(oldFingerprint ?? "?"), "\(status)")

        // Every node holds only the new root (pushed when the rotation ends), and a certificate from it.
        func roots() -> Int { ((try? String(contentsOfFile: caFile, encoding: .utf8)) ?? "").components(separatedBy: "BEGIN CERTIFICATE").count - 1 }
        #expect(cluster.waitUntil(15) { roots() == 1 }, "node-a still trusts \(roots()) roots\n\(cluster.log(cluster.agentLog(a)))")
        let newCA = try String(contentsOfFile: caFile, encoding: .utf8)
        #expect(newCA != oldCA)
        for m in try ["node-a", "node-b"].map(cluster.member) {
            let verify = try runProcess("/usr/bin/openssl", ["verify", "-CAfile", caFile, m.root.appendingPathComponent("cluster/node.pem").path])
            #expect(verify.status == 0, "\(m.name)'s certificate is not from the new CA: \(verify.stdout) \(verify.stderr)")
        }
        // Same containers, nodes ready, and the sessions still carry work.
        #expect(try cluster.containersByNode() == before)
        #expect(try cluster.nodes().allSatisfy { $0.state == "ready" })
        try cluster.ok(["service", "scale", "web=3"])
        #expect(cluster.waitUntil(60) { try cluster.running("web").count == 3 }, "\((try? cluster.tasks("web")) ?? [])")
        // A client certificate of the new CA reaches the manager's TCP port.
        let admin = cluster.root.appendingPathComponent("admin").path
        try cluster.ok("cert", "create", "admin", "--role", "admin", "--expires", "1h", "-o", admin)
        let remote = try runProcess(Binaries.pier.path, ["--host", cluster.managerAddress, "--tls-dir", admin, "service", "ls"], env: ["PIER_HOST": "unix:///nonexistent"], timeout: 30)
        #expect(remote.status == 0 && remote.stdout.contains("web"), "\(remote.stderr)")
        try cluster.ok("service", "rm", "web")
    }

    /// `--socket-group`: the socket is root's and the group's (0660); an unknown group is refused
    /// before anything starts.
    @Test func socketGroupSharesTheSocketWithOneGroup() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-sg-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let socket = dir.appendingPathComponent("run/pier.sock").path
        let common = ["agent", "--data-root", dir.appendingPathComponent("root").path, "--listen", "unix://" + socket,
                      "--shim", Binaries.shim.path, "--network-pool", "0"]
        let unknown = try runProcess(Binaries.pier.path, common + ["--socket-group", "no-such-group-pier"], timeout: 30)
        #expect(unknown.status != 0 && unknown.stderr.contains("--socket-group no-such-group-pier: no such group"), "\(unknown.stderr)")
        #expect(!FileManager.default.fileExists(atPath: socket))

        guard let group = getgrnam("nogroup") else { Issue.record("this host has no group nogroup"); return }
        let gid = group.pointee.gr_gid
        let agent = Process()
        agent.executableURL = Binaries.pier
        agent.arguments = common + ["--socket-group", "nogroup"]
        agent.standardOutput = FileHandle.nullDevice
        agent.standardError = FileHandle.nullDevice
        try agent.run()
        defer { kill(agent.processIdentifier, SIGKILL); agent.waitUntilExit() }
        var ready = false
        let deadline = Date().addingTimeInterval(15)
        while !ready && Date() < deadline {
            var st = stat()
            ready = stat(socket, &st) == 0 && st.st_gid == gid && st.st_mode & 0o777 == 0o660
            if !ready { usleep(50_000) }
        }
        var st = stat()
        _ = stat(socket, &st)
        #expect(ready, "socket \(socket): gid \(st.st_gid) mode \(String(st.st_mode & 0o777, radix: 8)), expected gid \(gid) mode 660")
        #expect(Self.mode(dir.appendingPathComponent("run").path) == 0o755, "the socket's directory lets the group reach it")
        #expect(Self.mode(dir.appendingPathComponent("root").path) == 0o700)
    }
}

import PierTestSupport
import Foundation
import Testing

/// One manager and three agents, each in its own network namespace (see `TestCluster`).
/// Serialized: every test builds and removes its own topology, and they share the machine.
@Suite(.serialized, .integrationHost, .timeLimit(.minutes(10)))
struct ClusterTests {
    static let image = TestCluster.image
    /// A long-running task that exits on SIGTERM (a bare `sleep` as pid 1 ignores it, and every
    /// stop would wait out the 10 s grace period).
    static let command = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]

    @Test func nodesJoinAndStrangersAreRefused() throws {
        let cluster = try TestCluster.start()
        defer { cluster.tearDown() }
        let nodes = try cluster.nodes()
        #expect(Set(nodes.map(\.description.hostname)) == ["node-a", "node-b", "node-c"])
        #expect(nodes.allSatisfy { $0.state == "ready" && $0.availability == "active" })

        // A join with a token of this cluster but the wrong secret: refused, nothing added.
        var bad = Array(cluster.token)
        if let last = bad.last { bad[bad.count - 1] = last == "a" ? "b" : "a" }
        let intruder = TestCluster.Member(
            name: "intruder", namespace: try cluster.member("node-a").namespace, vethHost: "", vethPeer: "", address: "",
            root: cluster.root.appendingPathComponent("intruder"), bridge: "pit\(cluster.tag)x0", subnetPrefix: "10.213.\(cluster.net)")
        let r = try runProcess("/usr/bin/nsenter", cluster.agentArguments(intruder, token: String(bad)), timeout: 30)
        #expect(r.status != 0)
        let output = r.stdout + r.stderr
        #expect(output.contains("join token is not valid"), "the refusal should say why: \(output)")
        #expect(!FileManager.default.fileExists(atPath: intruder.root.appendingPathComponent("cluster/node.pem").path))
        let after = try cluster.nodes()
        #expect(after.count == 3 && !after.contains { $0.description.hostname == "intruder" })

        // A certificate from another CA, with the subject of a real node's: refused at the TCP port.
        let a = try cluster.member("node-a")
        let cert = a.root.appendingPathComponent("cluster/node.pem").path
        let key = a.root.appendingPathComponent("cluster/node-key.pem").path
        let ca = a.root.appendingPathComponent("cluster/ca.pem").path
        let forged = cluster.root.appendingPathComponent("forged")
        try FileManager.default.createDirectory(at: forged, withIntermediateDirectories: true)
        func openssl(_ args: [String]) throws {
            let r = try runProcess("/usr/bin/openssl", args, timeout: 30)
            guard r.status == 0 else { throw TestFailure("openssl \(args.joined(separator: " ")) failed: \(r.stderr)") }
        }
        let f = forged.path
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "\(f)/ca.key",
                     "-out", "\(f)/ca.pem", "-days", "1", "-subj", "/CN=forged cluster CA"])
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "\(f)/node.key"])
        try openssl(["x509", "-in", cert, "-x509toreq", "-key", "\(f)/node.key", "-out", "\(f)/node.csr"])
        try openssl(["x509", "-req", "-in", "\(f)/node.csr", "-CA", "\(f)/ca.pem", "-CAkey", "\(f)/ca.key", "-days", "1",
                     "-copy_extensions", "copyall", "-out", "\(f)/node.pem"])
        let url = "https://10.216.\(cluster.net).1:\(cluster.port)/v2/"
        func curl(_ extra: [String]) throws -> (exit: Int32, code: String) {
            let r = try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "--cacert", ca] + extra + [url])
            return (r.status, r.stdout)
        }
        // The real node's certificate is let in (so the refusal below is about the CA, not the setup).
        let real = try curl(["--cert", cert, "--key", key])
        #expect(real.exit == 0 && real.code == "200", "the node's own certificate should be accepted: \(real)")
        let fake = try curl(["--cert", "\(f)/node.pem", "--key", "\(f)/node.key"])
        #expect(fake.exit != 0 || fake.code == "401" || fake.code == "403", "a forged certificate got \(fake)")
        #expect(fake.code != "200")
        let none = try curl([])
        #expect(none.code == "401" || none.code == "403" || none.exit != 0, "no certificate got \(none)")
    }

    /// CPIS, the direct mode: a client with a certificate of the cluster's CA (`pier cert create`)
    /// runs, lists, stops and removes containers on one agent over its TCP port; without a
    /// certificate, with one from another CA, with a node's own certificate, or once revoked, it
    /// is refused. An operator may not reach into the host, a readonly client only looks.
    @Test func directModeNeedsAClusterCertificate() throws {
        let cluster = try TestCluster.start(agents: 1, directPort: 7444)
        defer { cluster.tearDown() }
        let a = try cluster.member("node-a")
        let direct = try #require(a.direct)
        // The device has no image yet: a direct run pulls it from the manager's registry.
        #expect(!(try cluster.agentPier(a, ["image", "ls"]).stdout.contains("busybox")))

        let certs = cluster.root.appendingPathComponent("ops").path
        let created = try cluster.ok("cert", "create", "ops", "--role", "operator", "-o", certs)
        #expect(created.contains("node.pem"))
        let mode = try FileManager.default.attributesOfItem(atPath: certs + "/node-key.pem")[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // Global --host/--tls-dir before the command, as `docker -H`.
        func remote(_ args: [String], tls: String? = certs) throws -> CommandResult {
            var all = ["--host", direct]
            if let tls { all += ["--tls-dir", tls] }
            return try runProcess(Binaries.pier.path, all + args, env: ["PIER_HOST": "unix:///nonexistent"], timeout: 60)
        }
        let run = try remote(["run", "--rm", "--network", "none", Self.image, "echo", "hello over mTLS"])
        #expect(run.status == 0, "direct run failed: \(run.stderr)")
        #expect(run.stdout.contains("hello over mTLS"))

        let detached = try remote(["run", "-d", "--name", "cpis", "--network", "none", Self.image] + Self.command)
        #expect(detached.status == 0, "direct run -d failed: \(detached.stderr)")
        let ps = try remote(["ps", "--format", "json"])
        #expect(ps.status == 0 && ps.stdout.contains("cpis"), "ps: \(ps.stdout) \(ps.stderr)")
        #expect(try remote(["stop", "-t", "5", "cpis"]).status == 0)
        #expect(try remote(["rm", "cpis"]).status == 0)
        #expect(!(try cluster.agentPier(a, ["ps", "-a"]).stdout.contains("cpis")))

        // No certificate: the client says what it needs and sends nothing.
        let bare = try remote(["ps"], tls: nil)
        #expect(bare.status != 0)
        #expect(bare.stderr.contains("--tls-dir"), "\(bare.stderr)")
        // A certificate of another CA: refused by the agent's TLS.
        let forged = cluster.root.appendingPathComponent("forged").path
        try FileManager.default.createDirectory(atPath: forged, withIntermediateDirectories: true)
        let gen = try runProcess("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", forged + "/node-key.pem", "-out", forged + "/node.pem", "-days", "1", "-subj", "/CN=client-ops"])
        #expect(gen.status == 0, "\(gen.stderr)")
        try FileManager.default.copyItem(atPath: certs + "/ca.pem", toPath: forged + "/ca.pem")
        let refused = try remote(["run", "--rm", "--network", "none", Self.image, "true"], tls: forged)
        #expect(refused.status != 0, "a certificate of another CA ran a container: \(refused.stdout)")
        #expect(try cluster.agentPier(a, ["ps", "-a", "-q"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)

        // An image neither the device nor the manager has: a clear error, no container.
        let missing = try remote(["run", "--rm", "--network", "none", "test/nothing:1", "true"])
        #expect(missing.status == 125)
        #expect(missing.stderr.contains("test/nothing:1") && missing.stderr.contains("manager"), "\(missing.stderr)")
        #expect(try cluster.agentPier(a, ["ps", "-a", "-q"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)

        // An operator may not reach into the host; an admin may.
        for hostile in [["-v", "/:/host"], ["--network", "host"], ["--cap-add", "SYS_ADMIN"], ["--device", "/dev/mem"]] {
            let refused = try remote(["run", "--rm"] + hostile + [Self.image, "true"])
            #expect(refused.status != 0 && refused.stderr.contains("client-ops (operator) may not ask for"), "\(hostile): \(refused.stderr)")
        }
        #expect(try cluster.agentPier(a, ["ps", "-a", "-q"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        let adminCerts = cluster.root.appendingPathComponent("root").path
        try cluster.ok("cert", "create", "root", "--role", "admin", "--expires", "1h", "-o", adminCerts)
        let bound = try remote(["run", "--rm", "--network", "none", "-v", "/etc:/host-etc:ro", Self.image, "cat", "/host-etc/hostname"], tls: adminCerts)
        #expect(bound.status == 0, "an admin may bind host paths: \(bound.stderr)")

        // Readonly: lists, may not run.
        let lookCerts = cluster.root.appendingPathComponent("look").path
        try cluster.ok("cert", "create", "look", "--role", "readonly", "-o", lookCerts)
        #expect(try remote(["ps"], tls: lookCerts).status == 0)
        let lookRun = try remote(["run", "--rm", "--network", "none", Self.image, "true"], tls: lookCerts)
        #expect(lookRun.status != 0 && lookRun.stderr.contains("client-look (readonly) may not POST /v1/containers"), "\(lookRun.stderr)")

        // A node's own certificate (what a compromised device holds) never reaches the direct API.
        let nodeCerts = cluster.root.appendingPathComponent("node-a-key").path
        try FileManager.default.createDirectory(atPath: nodeCerts, withIntermediateDirectories: true)
        for file in ["node.pem", "node-key.pem", "ca.pem"] {
            try FileManager.default.copyItem(atPath: a.root.appendingPathComponent("cluster/\(file)").path, toPath: nodeCerts + "/" + file)
        }
        let asNode = try remote(["ps"], tls: nodeCerts)
        #expect(asNode.status != 0, "a worker's certificate listed containers on the direct port: \(asNode.stdout)")

        // Revoked: the manager pushes the list on the session, the agent refuses at the handshake.
        #expect(try cluster.ok("cert", "revoke", "ops").contains("revoked ops (operator)"))
        #expect(cluster.waitUntil(15) { try remote(["ps"]).status != 0 }, "the revoked certificate still reaches the direct port")
        let atManager = try runProcess(Binaries.pier.path, ["--host", cluster.managerAddress, "--tls-dir", certs, "service", "ls"],
                                       env: ["PIER_HOST": "unix:///nonexistent"], timeout: 30)
        #expect(atManager.status != 0, "the manager still lets the revoked certificate in: \(atManager.stdout)")
        let lookAtManager = try runProcess(Binaries.pier.path, ["--host", cluster.managerAddress, "--tls-dir", lookCerts, "service", "ls"],
                                           env: ["PIER_HOST": "unix:///nonexistent"], timeout: 30)
        #expect(lookAtManager.status == 0, "a readonly certificate lists services at the manager: \(lookAtManager.stderr)")
        let listed = try cluster.ok("cert", "ls")
        #expect(listed.contains("ops") && listed.contains("revoked"), "\(listed)")
        #expect(try remote(["ps"], tls: lookCerts).status == 0, "other certificates keep working")
    }

    /// An admin pushes an image to the manager's registry with skopeo over mutual TLS (an admin
    /// certificate from `pier cert create`); a service of it then runs on a node, which pulls it
    /// from the same registry. A readonly certificate may pull but not push.
    @Test(.requires(Requirement.executable("/usr/bin/skopeo"), "skopeo"))
    func adminsPushImagesToTheManagersRegistry() throws {
        let cluster = try TestCluster.start(agents: 1)
        defer { cluster.tearDown() }
        let archive = cluster.root.appendingPathComponent("image.tar").path
        try cluster.ok("image", "export", Self.image, archive)
        // skopeo's cert dir: *.crt trusted CAs, NAME.cert + NAME.key a client pair.
        func certDir(_ name: String, role: String) throws -> String {
            let dir = cluster.root.appendingPathComponent(name).path
            try cluster.ok("cert", "create", name, "--role", role, "-o", dir)
            try FileManager.default.copyItem(atPath: dir + "/ca.pem", toPath: dir + "/ca.crt")
            try FileManager.default.copyItem(atPath: dir + "/node.pem", toPath: dir + "/client.cert")
            try FileManager.default.copyItem(atPath: dir + "/node-key.pem", toPath: dir + "/client.key")
            return dir
        }
        let admin = try certDir("admin", role: "admin"), worker = try certDir("viewer", role: "readonly")
        let registry = cluster.managerAddress.replacingOccurrences(of: "tcp://", with: "")
        func skopeo(_ args: [String]) throws -> CommandResult { try runProcess("/usr/bin/skopeo", ["--insecure-policy"] + args, timeout: 120) }

        let denied = try skopeo(["copy", "--dest-cert-dir", worker, "oci-archive:\(archive)", "docker://\(registry)/edge/pushed:1"])
        #expect(denied.status != 0, "a readonly certificate pushed: \(denied.stderr)")
        #expect(denied.stderr.contains("may not pushManifest") || denied.stderr.contains("may not startUpload"), "\(denied.stderr)")
        let anonymous = try skopeo(["copy", "--dest-tls-verify=false", "oci-archive:\(archive)", "docker://\(registry)/edge/pushed:1"])
        #expect(anonymous.status != 0)
        #expect(!(try cluster.ok("image", "ls")).contains("edge/pushed"))

        let pushed = try skopeo(["copy", "--dest-cert-dir", admin, "oci-archive:\(archive)", "docker://\(registry)/edge/pushed:1"])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(try cluster.ok("image", "ls").contains("edge/pushed"))
        let inspect = try skopeo(["inspect", "--cert-dir", worker, "docker://\(registry)/edge/pushed:1"])
        #expect(inspect.status == 0, "a readonly certificate may pull: \(inspect.stderr)")

        try cluster.ok(["service", "create", "--name", "pushed", "--network", "none", "edge/pushed:1"] + Self.command)
        #expect(cluster.waitUntil(30) { try cluster.running("pushed").count == 1 }, "\((try? cluster.tasks("pushed")) ?? [])")
        try cluster.ok("service", "rm", "pushed")
    }

    /// Clients without a cluster certificate: registry credentials from `pier registry
    /// credential create`, exchanged for bearer tokens at the manager's token endpoint, by skopeo
    /// (the Docker token flow) and by `pier image pull|push --creds`. A pull credential cannot
    /// push; a wrong, removed or expired one gets nothing; anonymous pulls are off by default.
    @Test(.requires(Requirement.executable("/usr/bin/skopeo"), "skopeo"))
    func registryCredentialsAndBearerTokens() throws {
        let cluster = try TestCluster.start(agents: 1)
        defer { cluster.tearDown() }
        let a = try cluster.member("node-a")
        let registry = cluster.managerAddress.replacingOccurrences(of: "tcp://", with: "")
        let archive = cluster.root.appendingPathComponent("image.tar").path
        try cluster.ok("image", "export", Self.image, archive)
        // Trust in the cluster CA only: no client certificate (ca.crt for skopeo, ca.pem for pier).
        let certs = cluster.root.appendingPathComponent("certs").path
        try cluster.ok("cert", "create", "unused", "--role", "readonly", "-o", certs)
        for file in ["node.pem", "node-key.pem"] { try FileManager.default.removeItem(atPath: certs + "/" + file) }
        try FileManager.default.copyItem(atPath: certs + "/ca.pem", toPath: certs + "/ca.crt")
        func secret(_ args: String...) throws -> String {
            try cluster.ok(["registry", "credential", "create", "-q"] + args).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let puller = try secret("puller"), pusher = try secret("pusher", "--push"), brief = try secret("brief", "--expires", "1s")
        #expect(puller.hasPrefix("pier_") && puller != pusher)
        #expect(try cluster.pier("registry", "credential", "create", "puller").stderr.contains("exists"))
        let listed = try cluster.ok("registry", "credential", "ls", "--format", "json")
        #expect(listed.contains("\"pusher\"") && listed.contains("\"push\"") && !listed.contains(puller), "\(listed)")

        func skopeo(_ args: [String]) throws -> CommandResult { try runProcess("/usr/bin/skopeo", ["--insecure-policy"] + args, timeout: 120) }
        let target = "docker://\(registry)/edge/tokens:1"
        let noCreds = try skopeo(["copy", "--dest-cert-dir", certs, "oci-archive:\(archive)", target])
        #expect(noCreds.status != 0)
        let pullOnly = try skopeo(["copy", "--dest-cert-dir", certs, "--dest-creds", "puller:\(puller)", "oci-archive:\(archive)", target])
        #expect(pullOnly.status != 0 && pullOnly.stderr.contains("may not push"), "\(pullOnly.stderr)")
        #expect(!(try cluster.ok("image", "ls")).contains("edge/tokens"))
        let pushed = try skopeo(["copy", "--dest-cert-dir", certs, "--dest-creds", "pusher:\(pusher)", "oci-archive:\(archive)", target])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(try cluster.ok("image", "ls").contains("edge/tokens"))
        let inspect = try skopeo(["inspect", "--cert-dir", certs, "--creds", "puller:\(puller)", target])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(try skopeo(["inspect", "--cert-dir", certs, target]).status != 0, Comment(rawValue: "anonymous pulls are off by default"))
        let wrong = try skopeo(["inspect", "--cert-dir", certs, "--creds", "puller:pier_wrong", target])
        #expect(wrong.status != 0 && wrong.stderr.contains("unauthorized"), "\(wrong.stderr)")

        // Pier's own client, on the device, with the CA alone and a credential.
        let image = "\(registry)/edge/tokens:1"
        let pulled = try cluster.agentPier(a, ["image", "pull", "--cert-dir", certs, "--creds", "puller:\(puller)", image], timeout: 60)
        #expect(pulled.status == 0, "\(pulled.stderr)")
        let denied = try cluster.agentPier(a, ["image", "push", "--cert-dir", certs, "--creds", "puller:\(puller)", image, "\(registry)/edge/tokens:2"])
        #expect(denied.status != 0 && denied.stderr.contains("may not push"), "\(denied.stderr)")
        let pushedByPier = try cluster.agentPier(a, ["image", "push", "--cert-dir", certs, "--creds", "pusher:\(pusher)", image, "\(registry)/edge/tokens:2"])
        #expect(pushedByPier.status == 0, "\(pushedByPier.stderr)")
        let badCreds = try cluster.agentPier(a, ["image", "pull", "--cert-dir", certs, "--creds", "puller:nope", image])
        #expect(badCreds.status != 0 && badCreds.stderr.contains("secret is wrong"), "\(badCreds.stderr)")

        // Removed and expired credentials get nothing.
        #expect(try cluster.ok("registry", "credential", "rm", "puller").contains("puller"))
        #expect(try skopeo(["inspect", "--cert-dir", certs, "--creds", "puller:\(puller)", target]).status != 0)
        Thread.sleep(forTimeInterval: 1.2)
        #expect(try skopeo(["inspect", "--cert-dir", certs, "--creds", "brief:\(brief)", target]).status != 0)
        #expect(try cluster.pier("registry", "credential", "rm", "nobody").stderr.contains("no registry credential"))
    }

    /// `--registry-anonymous-pull`: anyone who reaches the port pulls; pushing still needs a credential.
    @Test(.requires(Requirement.executable("/usr/bin/skopeo"), "skopeo"))
    func anonymousPullsWhenTheClusterAllowsThem() throws {
        let cluster = try TestCluster.start(agents: 1, managerArguments: ["--registry-anonymous-pull"])
        defer { cluster.tearDown() }
        let registry = cluster.managerAddress.replacingOccurrences(of: "tcp://", with: "")
        let certs = cluster.root.appendingPathComponent("certs").path
        try cluster.ok("cert", "create", "unused", "--role", "readonly", "-o", certs)
        for file in ["node.pem", "node-key.pem"] { try FileManager.default.removeItem(atPath: certs + "/" + file) }
        try FileManager.default.copyItem(atPath: certs + "/ca.pem", toPath: certs + "/ca.crt")
        let archive = cluster.root.appendingPathComponent("image.tar").path
        try cluster.ok("image", "export", Self.image, archive)
        func skopeo(_ args: [String]) throws -> CommandResult { try runProcess("/usr/bin/skopeo", ["--insecure-policy"] + args, timeout: 120) }
        let inspect = try skopeo(["inspect", "--cert-dir", certs, "docker://\(registry)/\(Self.image)"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let push = try skopeo(["copy", "--dest-cert-dir", certs, "oci-archive:\(archive)", "docker://\(registry)/edge/anon:1"])
        #expect(push.status != 0)
        #expect(!(try cluster.ok("image", "ls")).contains("edge/anon"))
    }

    /// A device killed with SIGKILL in the middle of a pull over a slow link: the bytes it had
    /// are kept, and the pull after its restart asks only for the rest (`Range`) and stores the
    /// same, verified image.
    @Test func aPullCutByAKillResumesAfterTheRestart() throws {
        let cluster = try TestCluster.start(agents: 1)
        defer { cluster.tearDown() }
        let a = try cluster.member("node-a")
        let registry = cluster.managerAddress.replacingOccurrences(of: "tcp://", with: "")
        // A layer of 3 MB that does not compress, over a link of 4 Mbit/s towards the device: ~6 s.
        let big = cluster.root.appendingPathComponent("big")
        try Data((0..<3_000_000).map { _ in UInt8.random(in: 0...255) }).write(to: big)
        try cluster.ok("image", "build", "--tag", "edge/big:1", "--from", Self.image, "--add", "\(big.path):/big")
        // The device holds the base already: the big layer is what the pull moves.
        #expect(try cluster.agentPier(a, ["image", "pull", "-q", "\(registry)/\(Self.image)"], timeout: 60).status == 0)
        let shaped = try runProcess("/usr/sbin/tc", ["qdisc", "add", "dev", a.vethHost, "root", "tbf", "rate", "4mbit", "burst", "32kbit", "latency", "400ms"])
        #expect(shaped.status == 0, "\(shaped.stderr)")

        let pulling = DispatchGroup()
        pulling.enter()
        DispatchQueue.global().async {
            _ = try? cluster.agentPier(a, ["image", "pull", "-q", "\(registry)/edge/big:1"], timeout: 60)
            pulling.leave()
        }
        let ingest = a.root.appendingPathComponent("ingest")
        func partialBytes() -> Int {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: ingest.path)) ?? []
            return names.filter { $0.hasPrefix("partial-") }.compactMap {
                (try? FileManager.default.attributesOfItem(atPath: ingest.appendingPathComponent($0).path))?[.size] as? Int
            }.max() ?? 0
        }
        #expect(cluster.waitUntil(30, every: 0.05) { partialBytes() > 600_000 }, "the pull made no progress: \(cluster.log(cluster.agentLog(a)))")
        cluster.kill9(a)
        pulling.wait()
        let kept = partialBytes()
        #expect(kept > 600_000 && kept < 3_000_000)

        _ = try runProcess("/usr/sbin/tc", ["qdisc", "del", "dev", a.vethHost, "root"])
        try cluster.startAgent(a, token: nil)
        let pulled = try cluster.agentPier(a, ["image", "pull", "-q", "\(registry)/edge/big:1"], timeout: 60)
        #expect(pulled.status == 0, "\(pulled.stderr)")
        let fetched = try #require(pulled.stdout.firstMatch(of: /, (\d+) bytes fetched/).flatMap { Int($0.1) }, "\(pulled.stdout)")
        // The rest of the big layer (and the image's config), not all of it.
        #expect(fetched <= 3_001_000 - kept + 16_000, "fetched \(fetched) bytes after \(kept) were kept")
        #expect(partialBytes() == 0)
        let sum = try cluster.agentPier(a, ["run", "--rm", "--network", "none", "\(registry)/edge/big:1", "busybox", "sha256sum", "/big"])
        let expected = try runProcess("/usr/bin/sha256sum", [big.path]).stdout.prefix(64)
        #expect(sum.status == 0 && sum.stdout.hasPrefix(String(expected)), "\(sum.stdout) \(sum.stderr)")
    }

    /// `pier image pull` and `push` on a joined device against its manager's registry: the
    /// node's own certificate pulls; pushing needs an admin or operator certificate (`--cert-dir`).
    @Test func devicesPullAndPushImagesWithTheCLI() throws {
        let cluster = try TestCluster.start(agents: 1)
        defer { cluster.tearDown() }
        let a = try cluster.member("node-a")
        let registry = cluster.managerAddress.replacingOccurrences(of: "tcp://", with: "")
        let pulled = try cluster.agentPier(a, ["image", "pull", "\(registry)/\(Self.image)"], timeout: 60)
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(pulled.stdout.contains("\(registry)/\(Self.image)"), "\(pulled.stdout)")
        // Progress on stderr, per layer: the config and the one layer were each stored.
        #expect(pulled.stderr.components(separatedBy: ": done (").count - 1 == 2, "\(pulled.stderr)")
        // The layer was unpacked as part of the pull, not left for the first container.
        let unpacked = (try? FileManager.default.contentsOfDirectory(atPath: a.root.appendingPathComponent("layers").path)) ?? []
        #expect(unpacked.filter { !$0.hasPrefix(".") }.count == 1, "\(unpacked)")
        // Again: everything is there, nothing is fetched.
        #expect(try cluster.agentPier(a, ["image", "pull", "\(registry)/\(Self.image)"]).stdout.contains("(0 blobs, 0 bytes fetched)"))
        #expect(try cluster.agentPier(a, ["image", "ls"]).stdout.contains(registry))
        let run = try cluster.agentPier(a, ["run", "--rm", "--network", "none", "\(registry)/\(Self.image)", "echo", "pulled"])
        #expect(run.status == 0 && run.stdout.contains("pulled"), "\(run.stderr)")

        #expect(try cluster.agentPier(a, ["image", "tag", "\(registry)/\(Self.image)", "edge/copy:2"]).status == 0)
        let asWorker = try cluster.agentPier(a, ["image", "push", "edge/copy:2", "\(registry)/edge/copy:2"])
        #expect(asWorker.status != 0 && asWorker.stderr.contains("may not startUpload"), "\(asWorker.stderr)")
        let admin = cluster.root.appendingPathComponent("admin").path
        try cluster.ok("cert", "create", "admin", "--role", "admin", "-o", admin)
        // Signed on the device: the signature goes with the push.
        let keys = cluster.root.appendingPathComponent("keys").path
        try cluster.ok("key", "create", "dev", "-o", keys)
        #expect(try cluster.agentPier(a, ["image", "sign", "--key", keys + "/dev.key", "edge/copy:2"]).status == 0)
        let pushed = try cluster.agentPier(a, ["image", "push", "--cert-dir", admin, "edge/copy:2", "\(registry)/edge/copy:2"])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        // The manager had every image blob already (the image came from it): only the manifest
        // and the signature artifact's two small blobs moved.
        #expect(pushed.stdout.contains("(2 blobs, "), "\(pushed.stdout)")
        #expect(try cluster.ok("image", "ls").contains("edge/copy"))
        #expect(try cluster.pier(["image", "verify", "--key", keys + "/dev.pub", "edge/copy:2"]).status == 0)

        let noHost = try cluster.agentPier(a, ["image", "pull", "busybox"])
        #expect(noHost.status != 0 && noHost.stderr.contains("name the registry"), "\(noHost.stderr)")
        let missing = try cluster.agentPier(a, ["image", "pull", "\(registry)/test/none:1"])
        #expect(missing.status != 0, "a pull of a missing image succeeded: \(missing.stdout)")
        #expect(missing.stderr.contains("MANIFEST_UNKNOWN") || missing.stderr.contains("NAME_UNKNOWN"), "\(missing.stderr)")
    }

    /// A signing policy across the cluster: a manager and agents started with `--trust-key`
    /// refuse a service of an unsigned image (and an image signed by another key); once it is
    /// signed on the manager the service runs, the agent pulling the signature with the image.
    @Test func signedImagesOnlyUnderASigningPolicy() throws {
        let keys = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-keys-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: keys) }
        for name in ["release", "stranger"] {
            let made = try runProcess(Binaries.pier.path, ["key", "create", name, "-o", keys])
            #expect(made.status == 0, "\(made.stderr)")
        }
        let trusted = ["--trust-key", keys + "/release.pub"]
        let cluster = try TestCluster.start(agents: 1, managerArguments: trusted, agentArguments: trusted)
        defer { cluster.tearDown() }

        let unsigned = try cluster.pier(["service", "create", "--name", "app", "--network", "none", Self.image] + Self.command)
        #expect(unsigned.status != 0 && unsigned.stderr.contains("not signed by a trusted key"), "\(unsigned.stderr)")
        try cluster.ok("image", "sign", "--key", keys + "/stranger.key", Self.image)
        let strangers = try cluster.pier(["service", "create", "--name", "app", "--network", "none", Self.image] + Self.command)
        #expect(strangers.status != 0 && strangers.stderr.contains("not signed by a trusted key"), "\(strangers.stderr)")
        #expect(try cluster.ok("service", "ls", "-q").isEmpty)

        try cluster.ok("image", "sign", "--key", keys + "/release.key", Self.image)
        let verified = try cluster.pier(["image", "verify", "--key", keys + "/release.pub", Self.image])
        #expect(verified.status == 0, "\(verified.stderr)")
        try cluster.ok(["service", "create", "--name", "app", "--network", "none", Self.image] + Self.command)
        #expect(cluster.waitUntil(30) { try cluster.running("app").count == 1 }, "\((try? cluster.tasks("app")) ?? [])")
        // The agent holds the signature now, and enforces the policy on direct runs too.
        let a = try cluster.member("node-a")
        let direct = try cluster.agentPier(a, ["run", "--rm", "--network", "none", Self.image, "echo", "signed"])
        #expect(direct.status == 0 && direct.stdout.contains("signed"), "\(direct.stderr)")
        try cluster.ok("service", "rm", "app")
    }

    /// A device stays connected for longer than its certificate lives: the agent renews it during
    /// the session, and after the first certificate has expired a new session is accepted.
    @Test func certificatesRenewDuringALongSession() throws {
        let cluster = try TestCluster.start(agents: 1, managerArguments: ["--cert-expiry", "30s"])
        defer { cluster.tearDown() }
        let joined = Date()
        let a = try cluster.member("node-a")
        let pem = a.root.appendingPathComponent("cluster/node.pem")
        let first = try String(contentsOf: pem, encoding: .utf8)
        // Due at a point between 50% and 80% of its life (15–24 s); checked every 3 s.
        let renewed = cluster.waitUntil(35) { (try? String(contentsOf: pem, encoding: .utf8)) != first }
        #expect(renewed, "the certificate was not renewed during the session; agent log:\n\(cluster.log(cluster.agentLog(a)))")
        #expect(try cluster.nodes().first?.state == "ready")
        // Past the first certificate's expiry, a restarted manager takes the agent back.
        let wait = 32 - Date().timeIntervalSince(joined)
        if wait > 0 { usleep(useconds_t(wait * 1_000_000)) }
        cluster.killManager()
        try cluster.startManager()
        try cluster.waitForReadyNodes(1)
        try cluster.ok(["service", "create", "--name", "web", "--network", "none", Self.image] + Self.command)
        try expectConverged(cluster, "web", replicas: 1, within: 30)
        #expect(try cluster.ok("cert", "create", "x", "--role", "readonly", "-o", cluster.root.appendingPathComponent("x").path).contains("node.pem"))
    }

    @Test func deployAndScaleSpreadsTasksOverNodes() throws {
        let cluster = try TestCluster.start()
        defer { cluster.tearDown() }
        let greeting = ["sh", "-c", "echo hello from a task; echo to stderr >&2; trap 'exit 0' TERM; while true; do sleep 1; done"]
        try cluster.ok(["service", "create", "--name", "web", "--replicas", "3", "--network", "none", Self.image] + greeting)
        try expectConverged(cluster, "web", replicas: 3, perNode: 1, within: 30)

        // service logs: every task's output, gathered from the three nodes, prefixed by task and node.
        var logs = CommandResult(status: -1, stdout: "", stderr: "")
        _ = cluster.waitUntil(10) {
            logs = try cluster.pier("service", "logs", "web")
            return logs.stdout.split(separator: "\n").count >= 3
        }
        #expect(logs.status == 0, "service logs failed: \(logs.stderr)")
        let lines = logs.stdout.split(separator: "\n")
        #expect(lines.count == 3 && lines.allSatisfy { $0.hasPrefix("web.") && $0.hasSuffix("| hello from a task") }, "\(logs.stdout)")
        for node in ["node-a", "node-b", "node-c"] { #expect(lines.contains { $0.contains("@\(node) ") }, "no line from \(node): \(logs.stdout)") }
        #expect(logs.stderr.split(separator: "\n").filter { $0.hasSuffix("| to stderr") }.count == 3, "\(logs.stderr)")
        let missing = try cluster.pier("service", "logs", "nothing")
        #expect(missing.status != 0 && missing.stderr.contains("no such service"), "\(missing.stderr)")

        try cluster.ok("service", "scale", "web=6")
        try expectConverged(cluster, "web", replicas: 6, perNode: 2, within: 20)

        try cluster.ok("service", "scale", "web=2")
        try expectConverged(cluster, "web", replicas: 2, within: 20)
        let inspect = try cluster.inspectService("web")
        #expect(inspect.spec.mode.replicas == 2)
    }

    /// A removed service's tasks get their stop signal and its grace period, as Swarm gives them, not SIGKILL.
    @Test func aRemovedServicesTasksGetTheStopSignal() throws {
        let cluster = try TestCluster.start()
        defer { cluster.tearDown() }
        let out = cluster.root.appendingPathComponent("stop-out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try cluster.ok(["service", "create", "--name", "quit", "--replicas", "3", "--network", "none", "-v", "\(out.path):/out", Self.image,
                        "sh", "-c", "trap 'echo stopped > /out/$HOSTNAME; exit 0' TERM; while true; do sleep 1; done"])
        try expectConverged(cluster, "quit", replicas: 3, perNode: 1, within: 30)
        try cluster.ok("service", "rm", "quit")
        let gone = cluster.waitUntil(15) {
            try ["node-a", "node-b", "node-c"].allSatisfy { try cluster.runningContainers(cluster.member($0)).isEmpty }
        }
        #expect(gone, "the removed service's containers are still running")
        let stopped = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        #expect(stopped.count == 3, "tasks that saw SIGTERM before they went: \(stopped) (the others were killed outright)")
    }

    @Test func drainMovesTasksOffTheNode() throws {
        let cluster = try TestCluster.start()
        defer { cluster.tearDown() }
        try cluster.ok(["service", "create", "--name", "web", "--replicas", "3", "--network", "none", Self.image] + Self.command)
        try expectConverged(cluster, "web", replicas: 3, perNode: 1, within: 30)
        let a = try cluster.nodeID("node-a")

        let start = Date()
        try cluster.ok("node", "update", "--availability", "drain", "node-a")
        let moved = cluster.waitUntil(15) {
            let running = try cluster.running("web")
            let onA = try cluster.runningContainers(cluster.member("node-a"))
            return running.count == 3 && !running.contains { $0.nodeID == a } && onA.isEmpty
        }
        print("drain: node-a's task running elsewhere after \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        #expect(moved, "tasks did not leave the drained node: \(cluster.describe("web"))")
        try expectConverged(cluster, "web", replicas: 3, within: 10)
        #expect(try cluster.runningContainers(cluster.member("node-a")).isEmpty)
        #expect(try cluster.nodes().first { $0.id == a }?.availability == "drain")
    }

    @Test func killedAgentsTasksRunElsewhere() throws {
        let cluster = try TestCluster.start()
        defer { cluster.tearDown() }
        try cluster.ok(["service", "create", "--name", "web", "--replicas", "3", "--network", "none", Self.image] + Self.command)
        try expectConverged(cluster, "web", replicas: 3, perNode: 1, within: 30)
        let a = try cluster.member("node-a")
        let aID = try cluster.nodeID("node-a")

        let start = Date()
        cluster.kill9(a)
        let moved = cluster.waitUntil(60, every: 0.05) {
            let running = try cluster.running("web")
            return running.count == 3 && !running.contains { $0.nodeID == aID }
        }
        let elapsed = Date().timeIntervalSince(start)
        print("kill -9 of an agent → its task running elsewhere after \(String(format: "%.2f", elapsed)) s")
        #expect(moved, "the killed node's task was not replaced: \(cluster.describe("web"))")
        #expect(try cluster.nodes().first { $0.id == aID }?.state == "down")
        // And the replacements really run, on the two live agents.
        try expectConverged(cluster, "web", replicas: 3, within: 10)
    }

    @Test func cutLinkMovesTasksAndRestoredNodeLeavesNoDuplicates() throws {
        let cluster = try TestCluster.start()
        defer { cluster.tearDown() }
        try cluster.ok(["service", "create", "--name", "web", "--replicas", "3", "--network", "none", Self.image] + Self.command)
        try expectConverged(cluster, "web", replicas: 3, perNode: 1, within: 30)
        let a = try cluster.member("node-a")
        let aID = try cluster.nodeID("node-a")

        let start = Date()
        try cluster.setLink(a, up: false)
        let moved = cluster.waitUntil(60, every: 0.05) {
            let running = try cluster.running("web")
            return running.count == 3 && !running.contains { $0.nodeID == aID }
        }
        print("link cut → node-a's task running elsewhere after \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        #expect(moved, "the cut-off node's task was not replaced: \(cluster.describe("web"))")
        #expect(try cluster.nodes().first { $0.id == aID }?.state == "down")
        // Cut off, the agent keeps its container running (offline autonomy).
        #expect(try cluster.runningContainers(a).count == 1)

        try cluster.setLink(a, up: true)
        let back = cluster.waitUntil(20) { try cluster.nodes().first { $0.id == aID }?.state == "ready" }
        #expect(back, "node-a did not come back: \(cluster.describe("web"))")
        // Its stale container is stopped and removed: exactly the replicas run, once each.
        let clean = cluster.waitUntil(20) { try cluster.runningContainers(a).isEmpty }
        #expect(clean, "node-a kept its stale container: \(cluster.describe("web"))")
        try expectConverged(cluster, "web", replicas: 3, within: 10)
    }

    @Test func failingHealthCheckRollsTheUpdateBack() throws {
        let cluster = try TestCluster.start()
        defer { cluster.tearDown() }
        try cluster.ok(["service", "create", "--name", "web", "--replicas", "2", "--network", "none", Self.image] + Self.command)
        try expectConverged(cluster, "web", replicas: 2, within: 30)
        let before = try cluster.inspectService("web")
        #expect(before.spec.task.container.health == nil)

        try cluster.ok("service", "update", "--health-cmd", "false", "--health-interval", "200ms", "--health-timeout", "1s",
                       "--health-retries", "1", "--update-failure-action", "rollback", "--update-monitor", "3s",
                       "--update-parallelism", "1", "web")
        var last: ServiceView?
        let rolledBack = cluster.waitUntil(45, every: 0.25) {
            last = try cluster.inspectService("web")
            return last?.updateStatus?.state == "rollback_completed"
        }
        #expect(rolledBack, "update status: \(String(describing: last?.updateStatus)); \(cluster.describe("web"))")
        let after = try cluster.inspectService("web")
        // The spec is the previous one again: no health check.
        #expect(after.spec.task.container.health == nil)
        #expect(after.spec.mode.replicas == 2)
        try expectConverged(cluster, "web", replicas: 2, within: 15)
        let running = try cluster.running("web")
        #expect(running.allSatisfy { $0.health != "unhealthy" }, "\(cluster.describe("web"))")
        // Tasks on the rolled-back spec have no health check; any task of the failed spec would.
        #expect(running.allSatisfy { $0.health == nil }, "tasks of the failed spec still run: \(cluster.describe("web"))")
    }

    /// Download-then-switch: an update to a new image first has the node fetch it while the old
    /// task keeps running, and only then stops the old task (stop-first, so a pull on a slow link
    /// would otherwise be downtime).
    @Test func updatesStageTheNewImageBeforeStoppingTheOldTask() throws {
        let cluster = try TestCluster.start(agents: 1)
        defer { cluster.tearDown() }
        let a = try cluster.member("node-a")
        try cluster.ok(["service", "create", "--name", "web", "--network", "none", Self.image] + Self.command)
        try expectConverged(cluster, "web", replicas: 1, within: 30)
        let old = try #require(try cluster.running("web").first)
        // A second image on the manager: the node has never seen it.
        let context = cluster.root.appendingPathComponent("v2")
        try FileManager.default.createDirectory(at: context, withIntermediateDirectories: true)
        try Data("2\n".utf8).write(to: context.appendingPathComponent("version"))
        try cluster.ok("image", "build", "--tag", "test/web:2", "--from", Self.image, "--add", "\(context.path)/version:/version")

        try cluster.ok("service", "update", "--image", "test/web:2", "--update-order", "stop-first", "web")
        #expect(cluster.waitUntil(45, every: 0.25) {
            try cluster.inspectService("web").updateStatus?.state == "completed"
        }, "\(cluster.describe("web"))")
        try expectConverged(cluster, "web", replicas: 1, within: 15)
        let log = cluster.log(cluster.agentLog(a))
        let staged = try #require(log.range(of: "staged test/web"), "the agent never staged the image: \(log.suffix(2000))")
        let stopped = try #require(log.range(of: "container exited"), "\(log.suffix(2000))")
        #expect(staged.lowerBound < stopped.lowerBound, "the old task stopped before the new image was there: \(log.suffix(2000))")
        #expect(try cluster.running("web").first?.id != old.id)
    }

    @Test func managerKilledMidDeployLosesNothing() throws {
        let cluster = try TestCluster.start()
        defer { cluster.tearDown() }
        try cluster.ok(["service", "create", "--name", "web", "--replicas", "4", "--network", "none", Self.image] + Self.command)
        cluster.killManager()
        try cluster.startManager()
        #expect(try cluster.inspectService("web").spec.mode.replicas == 4)
        try cluster.waitForReadyNodes(3)
        try expectConverged(cluster, "web", replicas: 4, within: 30)
    }

    @Test func impossibleConstraintStaysPendingAndMissingImageIsRefused() throws {
        let cluster = try TestCluster.start()
        defer { cluster.tearDown() }
        try cluster.ok(["service", "create", "--name", "stuck", "--constraint", "node.labels.zone==mars", "--network", "none",
                       Self.image] + Self.command)
        var tasks: [TaskView] = []
        let pending = cluster.waitUntil(10) {
            tasks = try cluster.tasks("stuck")
            return tasks.count == 1 && tasks[0].status.state == "pending" && tasks[0].status.message.contains("no suitable node")
        }
        #expect(pending, "tasks: \(tasks)")
        let table = try cluster.ok("service", "ps", "stuck", "--no-trunc")
        #expect(table.contains("no suitable node"), "service ps should show why: \(table)")
        #expect(table.contains("constraints not satisfied"), "the reason should say what does not fit: \(table)")
        #expect(try cluster.containersByNode().values.allSatisfy(\.isEmpty))

        let r = try cluster.pier("service", "create", "--name", "ghost", "--network", "none", "test/missing:9", "sleep", "1")
        #expect(r.status != 0)
        #expect(r.stderr.contains("test/missing:9"), "the error should name the image: \(r.stderr)")
        let services = try cluster.ok("service", "ls")
        #expect(!services.contains("ghost"))
        #expect(try cluster.pier("service", "inspect", "ghost").status != 0)
    }

    /// Waits until the service has `replicas` running tasks that the agents really run, each
    /// exactly once (no duplicates), optionally `perNode` on every live node.
    func expectConverged(_ cluster: TestCluster, _ service: String, replicas: Int, perNode: Int? = nil, within timeout: TimeInterval,
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        var detail = ""
        let ok = cluster.waitUntil(timeout, every: 0.2) {
            let running = try cluster.running(service)
            let byNode = try cluster.containersByNode()
            let all = byNode.values.flatMap { $0 }
            let runningIDs = Set(running.map(\.id))
            detail = "manager: \(running.count) running; containers: \(byNode)"
            guard running.count == replicas, all.count == replicas, Set(all) == runningIDs else { return false }
            if let perNode { return byNode.values.allSatisfy { $0.count == perNode } }
            return true
        }
        #expect(ok, "\(service) did not converge on \(replicas) tasks: \(detail)\n\(cluster.describe(service))", sourceLocation: sourceLocation)
    }
}

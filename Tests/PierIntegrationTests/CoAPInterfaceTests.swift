import PierTestSupport
import Foundation
import NIOCore
import NIOPosix
import PierCoAP
import PierOSCORE
import Testing

/// CoAP clients made with the real `pier coap client create`, in one keys file (mode 600).
final class CoAPKeys: @unchecked Sendable {
    let dir: URL
    var file: URL { dir.appendingPathComponent("coap-keys.json") }

    init() throws {
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-coap-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// Runs `pier coap client create NAME` with `flags`; its aiocoap side goes to `dir/NAME`.
    @discardableResult
    func create(_ name: String, _ flags: [String]) throws -> CommandResult {
        let r = try runProcess(
            Binaries.pier.path, ["coap", "client", "create", name, "--keys", file.path, "--out", dir.appendingPathComponent(name).path] + flags)
        #expect(r.status == 0, "pier coap client create \(name): \(r.stderr)")
        return r
    }

    /// The client side of NAME's OSCORE context, read back from the keys file.
    func context(_ name: String) throws -> OSCORESecurityContext {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
        let clients = object?["clients"] as? [[String: Any]] ?? []
        guard let o = clients.first(where: { $0["name"] as? String == name })?["oscore"] as? [String: String] else {
            throw TestFailure("no client \(name) in \(file.path)")
        }
        func bytes(_ key: String) -> [UInt8] {
            let h = Array(o[key] ?? "")
            return stride(from: 0, to: h.count, by: 2).compactMap { UInt8(String(h[$0...$0 + 1]), radix: 16) }
        }
        return try OSCORESecurityContext(
            masterSecret: bytes("masterSecret"), masterSalt: bytes("masterSalt"), senderID: bytes("clientID"), recipientID: bytes("serverID"))
    }

    func credentials(_ name: String) -> String { dir.appendingPathComponent(name).appendingPathComponent("credentials.json").path }
}

/// An OSCORE client on 127.0.0.1 for the agent's and manager's constrained interface.
final class CoAPTestClient: Sendable {
    let endpoint: CoAPEndpoint
    let server: SocketAddress
    let oscore: OSCOREClient

    init(port: Int, context: OSCORESecurityContext, firstSequence: UInt64 = 0) async throws {
        var c = CoAPEndpoint.Configuration()
        c.messageLayer.additionalKnownOptions.insert(.oscore)
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        endpoint = try await CoAPEndpoint.attach(to: channel, configuration: c)
        server = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        oscore = OSCOREClient(context: context, firstSequence: firstSequence)
    }

    func get(_ path: String) async throws -> CoAPMessage { try await oscore.request(.get, path, on: endpoint, peer: server) }
    func put(_ path: String, _ json: String) async throws -> CoAPMessage {
        try await oscore.request(.put, path, on: endpoint, peer: server, payload: Array(json.utf8))
    }
    func post(_ path: String) async throws -> CoAPMessage { try await oscore.request(.post, path, on: endpoint, peer: server) }
    func delete(_ path: String) async throws -> CoAPMessage { try await oscore.request(.delete, path, on: endpoint, peer: server) }

    /// Observes `path`, collecting the JSON `state` of each notification.
    func observeStates(_ path: String, into states: StateLog) -> Task<Void, Never> {
        let stream = oscore.observe(path, on: endpoint, peer: server)
        return Task {
            do {
                for try await n in stream { states.append(n.code.isSuccess ? Self.field("state", n.payload) ?? "?" : "\(n.code)") }
            } catch { states.append("error") }
        }
    }

    func close() async { try? await endpoint.channel.close() }

    static func field(_ name: String, _ payload: [UInt8]) -> String? {
        ((try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any])?[name].map { "\($0)" }
    }
    static func object(_ payload: [UInt8]) -> [String: Any] {
        ((try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any]) ?? [:]
    }
}

final class StateLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}

/// Sends one datagram from a fresh socket and returns what comes back within `wait` seconds.
func sendRaw(_ bytes: [UInt8], to port: Int, wait: Double = 2) async throws -> [CoAPMessage] {
    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let lock = NSLock()
        private var datagrams: [[UInt8]] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            lock.withLock { datagrams.append(Array(unwrapInboundIn(data).data.readableBytesView)) }
        }
        var received: [[UInt8]] { lock.withLock { datagrams } }
    }
    let collector = Collector()
    let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(collector) } }
        .bind(host: "127.0.0.1", port: 0).get()
    var buffer = channel.allocator.buffer(capacity: bytes.count)
    buffer.writeBytes(bytes)
    try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: try SocketAddress(ipAddress: "127.0.0.1", port: port), data: buffer))
    try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
    try await channel.close()
    return collector.received.compactMap { try? CoAPMessage(decoding: $0) }
}

/// aiocoap-client with OSCORE (`pip install 'aiocoap[oscore]'`, scripts/setup.sh).
let hasAiocoapOSCORE: Bool = (try? runProcess("/usr/bin/env", ["python3", "-c", "import aiocoap.oscore, aiocoap.cli.client"], timeout: 30))?.status == 0

func aiocoapClient(_ args: [String]) throws -> CommandResult {
    try runProcess("/usr/bin/env", ["python3", "-m", "aiocoap.cli.client", "--no-color", "--no-pretty-print"] + args, timeout: 60)
}

@Suite("CoAP interface of agent (CPIS) and manager (CEMC)", .serialized, .integrationHost, .timeLimit(.minutes(10)))
struct CoAPInterfaceTests {
    static func waitFor(_ timeout: TimeInterval, _ condition: () async throws -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if (try? await condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(100))
        } while Date() < deadline
        return false
    }

    static let activation = #"{"image":"test/busybox:1","network":"none","command":["sh","-c","trap 'exit 0' TERM; while true; do sleep 1; done"]}"#

    @Test func agentServesOSCOREClientsWithinTheirScopes() async throws {
        let keys = try CoAPKeys()
        try keys.create("sensor-1", ["--service", "s1", "--verb", "list", "--verb", "status", "--verb", "activate", "--verb", "stop",
                                     "--verb", "start", "--verb", "remove"])
        try keys.create("viewer", ["--service", "*", "--verb", "list", "--verb", "status"])
        let mode = try FileManager.default.attributesOfItem(atPath: keys.file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let port = Int.random(in: 20000...29999)
        let agent = try TestAgent(arguments: ["--coap", "udp://127.0.0.1:\(port)", "--coap-keys", keys.file.path])
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let client = try await CoAPTestClient(port: port, context: try keys.context("sensor-1"))
        let viewer = try await CoAPTestClient(port: port, context: try keys.context("viewer"))
        defer { Task { await client.close(); await viewer.close() } }

        // Unprotected, out of scope, asking for the host's network, bad bodies: refused, nothing created.
        let anonymous = try await client.endpoint.put("/services/s1", to: client.server, payload: Array(Self.activation.utf8))
        #expect(anonymous.code == .unauthorized && anonymous.text.contains("OSCORE"), "\(anonymous.text)")
        let token = try await client.endpoint.get("/services", from: client.server, options: [CoAPOption(CoAPOptionNumber(65001), string: "0123456789abcdef")])
        #expect(token.code == .unauthorized && token.text.contains("--coap-insecure-token"), "\(token.text)")
        #expect(try await viewer.put("/services/s1", Self.activation).code == .forbidden)
        #expect(try await viewer.get("/services").code == .content)
        let elsewhere = try await client.put("/services/s2", Self.activation)
        #expect(elsewhere.code == .forbidden && elsewhere.text.contains("outside client sensor-1's scope"), "\(elsewhere.text)")
        let host = try await client.put("/services/s1", #"{"image":"test/busybox:1","network":"host"}"#)
        #expect(host.code == .forbidden && host.text.contains("network \"host\"") && host.text.contains("host-network"), "\(host.text)")
        let mount = try await client.put("/services/s1", #"{"image":"test/busybox:1","volumes":["/:/host"]}"#)
        #expect(mount.code == .forbidden && mount.text.contains("bind-mounts"), "\(mount.text)")
        #expect(try await client.put("/services/s1", "not json").code == .badRequest)
        let unknownKey = try await client.put("/services/s1", #"{"image":"test/busybox:1","replicas":2}"#)
        #expect(unknownKey.code == .badRequest && unknownKey.text.contains("replicas"))
        #expect(try await client.put("/services/s1", #"{"image":"no/such:image"}"#).code == .notFound)
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)

        // Activation: the container runs, labelled with the client's name; the same PUT again changes nothing.
        let put = try await client.put("/services/s1", Self.activation)
        #expect(put.code == .created && CoAPTestClient.field("state", put.payload) == "running", "\(put.text)")
        let inspect = try agent.ok("inspect", "s1")
        #expect(inspect.contains("\"pier.coap.client\"") && inspect.contains("sensor-1"))
        let id = try agent.ok("ps", "-q").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await client.put("/services/s1", Self.activation).code == .changed)
        #expect(try agent.ok("ps", "-q").trimmingCharacters(in: .whitespacesAndNewlines) == id)
        let list = try await viewer.get("/services")
        #expect(list.text.contains("\"name\":\"s1\""))

        // Observe over OSCORE: stop (from the CLI) and start (over CoAP) are notified; removal ends it with 4.04.
        let states = StateLog()
        let observer = client.observeStates("/services/s1", into: states)
        #expect(await Self.waitFor(10) { states.all == ["running"] }, "\(states.all)")
        try agent.ok("stop", "s1")
        #expect(await Self.waitFor(10) { states.all.last == "exited" }, "\(states.all)")
        #expect(try await client.post("/services/s1/start").code == .changed)
        #expect(await Self.waitFor(10) { states.all.last == "running" }, "\(states.all)")
        #expect(try await client.post("/services/s1/stop").code == .changed)
        #expect(try await viewer.delete("/services/s1").code == .forbidden)
        #expect(try await client.delete("/services/s1").code == .deleted)
        #expect(await Self.waitFor(10) { states.all.last == "4.04" }, "\(states.all)")
        observer.cancel()
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)
        #expect(try await client.get("/services/s1").code == .notFound)
        // The sequence file sits under the data root, private.
        let coapDir = agent.root.appendingPathComponent("coap")
        #expect(try FileManager.default.attributesOfItem(atPath: coapDir.path)[.posixPermissions] as? Int == 0o700)
        #expect(try FileManager.default.attributesOfItem(atPath: coapDir.appendingPathComponent("oscore-sequence.json").path)[.posixPermissions] as? Int == 0o600)
    }

    @Test func aRestartedAgentRefusesAnOldRequestAndServesFreshOnes() async throws {
        let keys = try CoAPKeys()
        try keys.create("sensor-1", ["--service", "*", "--verb", "list", "--verb", "activate", "--verb", "remove"])
        let port = Int.random(in: 20000...29999)
        let agent = try TestAgent(arguments: ["--coap", "udp://127.0.0.1:\(port)", "--coap-keys", keys.file.path])
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let context = try keys.context("sensor-1")
        let client = try await CoAPTestClient(port: port, context: context)
        #expect(try await client.get("/services").code == .content)  // past the Echo challenge of a fresh start

        // A PUT sent by hand, so its datagram can be sent again.
        var plain = CoAPMessage(type: .confirmable, code: .put, messageID: 0x4242, token: CoAPToken(0x0102_0304))
        plain.uriPath = ["services", "s2"]
        plain.payload = Array(Self.activation.utf8)
        let (outer, binding) = try client.oscore.protect(plain)
        let captured = try outer.encoded()
        let first = try await sendRaw(captured, to: port, wait: 5)
        let opened = try OSCOREProtection.unprotectResponse(try #require(first.first { !$0.isEmpty }), context: context, binding: binding).0
        #expect(opened.code == .created, "\(opened)")
        #expect(try await client.delete("/services/s2").code == .deleted)
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)

        // The same datagram from elsewhere: a replay, refused. After SIGKILL and a restart: still refused.
        let replay = try await sendRaw(captured, to: port)
        #expect(replay.first?.code == .unauthorized && replay.first?.text.contains("Replay detected") == true, "\(replay)")
        agent.kill9()
        try agent.start()
        let afterRestart = try await sendRaw(captured, to: port)
        let reply = try #require(afterRestart.first, "no answer after the restart")
        let challenge = try OSCOREProtection.unprotectResponse(reply, context: context, binding: binding)
        #expect(challenge.0.code == .unauthorized && challenge.0.option(.echo) != nil && challenge.1 != nil, "\(challenge)")
        #expect(try agent.ok("ps", "-a", "-q").isEmpty, "the replayed PUT was served after the restart")

        // A client that kept its sequence number (this one, in memory) is served after one Echo round trip.
        let put = try await client.put("/services/s3", Self.activation)
        #expect(put.code == .created, "\(put.text)")
        #expect(try await client.delete("/services/s3").code == .deleted)
        await client.close()
    }

    @Test(.requires(hasAiocoapOSCORE, "aiocoap with OSCORE"))
    func aiocoapClientWithTheCredentialsTheCLIWrote() async throws {
        let keys = try CoAPKeys()
        try keys.create("shell", ["--service", "s*", "--verb", "list", "--verb", "status", "--verb", "activate", "--verb", "remove"])
        let port = Int.random(in: 20000...29999)
        let agent = try TestAgent(arguments: ["--coap", "udp://127.0.0.1:\(port)", "--coap-keys", keys.file.path])
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let base = "coap://127.0.0.1:\(port)"
        let put = try aiocoapClient(["--credentials", keys.credentials("shell"), "-m", "PUT", "--content-format", "application/json",
                                     "--payload", Self.activation, "\(base)/services/s1"])
        #expect(put.status == 0 && CoAPTestClient.field("state", Array(put.stdout.utf8)) == "running", "\(put.stdout) \(put.stderr)")
        #expect(try agent.ok("inspect", "s1").contains("shell"))
        agent.kill9()
        try agent.start()
        // A new aiocoap process after the restart: it persisted its sequence number, answers the Echo, and is served.
        let list = try aiocoapClient(["--credentials", keys.credentials("shell"), "\(base)/services"])
        #expect(list.status == 0 && list.stdout.contains("\"name\":\"s1\""), "\(list.stdout) \(list.stderr)")
        let delete = try aiocoapClient(["--credentials", keys.credentials("shell"), "-m", "DELETE", "\(base)/services/s1"])
        #expect(delete.status == 0, "\(delete.stderr)")
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)
    }

    @Test func agentRefusesBadKeysFilesAndTokensWithoutTheFlag() throws {
        let keys = try CoAPKeys()
        try keys.create("a", ["--service", "*", "--verb", "list"])
        let root = keys.dir.appendingPathComponent("root").path
        func agent(_ extra: [String]) throws -> CommandResult {
            try runProcess(Binaries.pier.path, ["agent", "--data-root", root, "--coap", "udp://127.0.0.1:0", "--coap-keys", keys.file.path] + extra, timeout: 30)
        }
        chmod(keys.file.path, 0o644)
        let open = try agent([])
        #expect(open.status != 0 && open.stderr.contains("chmod 600"), "\(open.stderr)")
        try "# client token\nsensor-1 0123456789abcdef0123456789abcdef\n".write(to: keys.file, atomically: true, encoding: .utf8)
        chmod(keys.file.path, 0o600)
        let old = try agent([])
        #expect(old.status != 0 && old.stderr.contains("old line format") && old.stderr.contains("docs/coap-api.md"), "\(old.stderr)")
        try #"{"clients":[{"name":"legacy","token":"0123456789abcdef0123","scope":{"services":["*"],"verbs":["list"]}}]}"#
            .write(to: keys.file, atomically: true, encoding: .utf8)
        chmod(keys.file.path, 0o600)
        let token = try agent([])
        #expect(token.status != 0 && token.stderr.contains("--coap-insecure-token"), "\(token.stderr)")
        let half = try runProcess(Binaries.pier.path, ["agent", "--data-root", root, "--coap", "udp://127.0.0.1:0"], timeout: 30)
        #expect(half.status != 0 && half.stderr.contains("--coap and --coap-keys go together"), "\(half.stderr)")
        let flagAlone = try runProcess(Binaries.pier.path, ["agent", "--data-root", root, "--coap-insecure-token"], timeout: 30)
        #expect(flagAlone.status != 0 && flagAlone.stderr.contains("--coap-insecure-token needs --coap"), "\(flagAlone.stderr)")
    }

    @Test func insecureTokensWorkOnlyBehindTheFlag() async throws {
        let keys = try CoAPKeys()
        try #"{"clients":[{"name":"legacy","token":"0123456789abcdef0123","scope":{"services":["*"],"verbs":["list"]}}]}"#
            .write(to: keys.file, atomically: true, encoding: .utf8)
        chmod(keys.file.path, 0o600)
        let port = Int.random(in: 20000...29999)
        let agent = try TestAgent(arguments: ["--coap", "udp://127.0.0.1:\(port)", "--coap-keys", keys.file.path, "--coap-insecure-token"])
        defer { agent.tearDown() }
        let list = try runProcess("/usr/bin/coap-client-notls", ["-B", "10", "-O", "65001,0123456789abcdef0123", "coap://127.0.0.1:\(port)/services"])
        #expect(list.status == 0 && list.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "\(list.stdout) \(list.stderr)")
        let write = try runProcess(
            "/usr/bin/coap-client-notls", ["-B", "10", "-O", "65001,0123456789abcdef0123", "-m", "delete", "coap://127.0.0.1:\(port)/services/x"])
        #expect(write.stdout.contains("may not remove") || write.stderr.contains("4.03"), "\(write.stdout) \(write.stderr)")
    }

    @Test func managerSchedulesServicesActivatedByConstrainedClients() async throws {
        let keys = try CoAPKeys()
        try keys.create("sensor-1", ["--service", "web", "--verb", "activate", "--verb", "status", "--verb", "stop", "--verb", "start",
                                     "--verb", "remove"])
        let port = Int.random(in: 20000...29999)
        let cluster = try TestCluster.start(agents: 2, managerArguments: ["--coap", "udp://127.0.0.1:\(port)", "--coap-keys", keys.file.path])
        defer { cluster.tearDown() }
        let client = try await CoAPTestClient(port: port, context: try keys.context("sensor-1"))
        defer { Task { await client.close() } }
        let body = #"{"image":"test/busybox:1","replicas":2,"network":"none","constraints":["node.hostname!=manager"],"#
            + #""command":["sh","-c","trap 'exit 0' TERM; while true; do sleep 1; done"]}"#

        #expect(try await client.endpoint.get("/services", from: client.server).code == .unauthorized)
        #expect(try await client.get("/services").code == .forbidden)  // no list verb
        #expect(try await client.put("/services/web", #"{"image":"test/busybox:1","mode":"sideways"}"#).code == .badRequest)
        #expect(try await client.put("/services/web", #"{"image":"no/such:image"}"#).code == .badRequest)
        #expect(try await client.put("/services/db", body).code == .forbidden)
        #expect(try cluster.ok("service", "ls", "-q").isEmpty)

        let created = try await client.put("/services/web", body)
        #expect(created.code == .created)
        #expect(created.options(.locationPath).map { String(decoding: $0.value, as: UTF8.self) } == ["services", "web"])
        let states = StateLog()
        let observer = client.observeStates("/services/web", into: states)
        #expect(await Self.waitFor(30) { states.all.last == "running" }, "\(states.all)")
        let status = CoAPTestClient.object(try await client.get("/services/web").payload)
        #expect(status["running"] as? Int == 2 && status["desired"] as? Int == 2)
        #expect(try cluster.running("web").count == 2)
        #expect(try cluster.inspectService("web").spec.labels?["pier.coap.client"] == "sensor-1")

        // Stop scales to 0; start brings the two replicas back; DELETE removes the service.
        #expect(try await client.post("/services/web/stop").code == .changed)
        #expect(await Self.waitFor(30) { states.all.last == "stopped" }, "\(states.all)")
        #expect(try await client.post("/services/web/start").code == .changed)
        #expect(await Self.waitFor(30) { states.all.last == "running" }, "\(states.all)")
        #expect(try await client.delete("/services/web").code == .deleted)
        #expect(await Self.waitFor(10) { states.all.last == "4.04" }, "\(states.all)")
        observer.cancel()
        #expect(try cluster.ok("service", "ls", "-q").isEmpty)
        #expect(cluster.waitUntil(30) { try cluster.containersByNode().values.allSatisfy(\.isEmpty) })
    }
}

extension CoAPMessage {
    var text: String { String(decoding: payload, as: UTF8.self) }
}

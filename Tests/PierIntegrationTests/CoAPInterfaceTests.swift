import Foundation
import NIOCore
import NIOPosix
import PierCoAP
import Testing

/// A CoAP client on 127.0.0.1 for the agent's and manager's constrained interface.
final class CoAPTestClient: Sendable {
    let endpoint: CoAPEndpoint
    let server: SocketAddress
    let token: String

    init(port: Int, token: String) async throws {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        endpoint = try await CoAPEndpoint.attach(to: channel)
        server = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        self.token = token
    }

    var auth: [CoAPOption] { [CoAPOption(CoAPOptionNumber(65001), string: token)] }

    func get(_ path: String) async throws -> CoAPMessage { try await endpoint.get(path, from: server, options: auth) }
    func put(_ path: String, _ json: String) async throws -> CoAPMessage {
        try await endpoint.put(path, to: server, payload: Array(json.utf8), options: auth)
    }
    func post(_ path: String) async throws -> CoAPMessage { try await endpoint.post(path, to: server, payload: [], options: auth) }
    func delete(_ path: String) async throws -> CoAPMessage { try await endpoint.delete(path, at: server, options: auth) }

    /// Observes `path` with the token, collecting the JSON `state` of each notification.
    func observeStates(_ path: String, into states: StateLog) -> Task<Void, Never> {
        let stream = endpoint.observe(path, on: server, options: auth)
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

/// Writes a keys file (mode 600) with a read-write and a read-only client.
func writeCoAPKeys(in dir: URL) throws -> URL {
    let url = dir.appendingPathComponent("coap-keys")
    try "# test clients\nsensor-1 0123456789abcdef0123456789abcdef\nviewer 89abcdef0123456789abcdef01234567 ro\n"
        .write(to: url, atomically: true, encoding: .utf8)
    chmod(url.path, 0o600)
    return url
}

let coapWriter = "0123456789abcdef0123456789abcdef"
let coapReader = "89abcdef0123456789abcdef01234567"

@Suite("CoAP interface of agent (CPIS) and manager (CEMC)", .serialized)
struct CoAPInterfaceTests {
    static func waitFor(_ timeout: TimeInterval, _ condition: () async throws -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if (try? await condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(100))
        } while Date() < deadline
        return false
    }

    @Test func agentActivatesObservesStopsAndRemovesServicesForTokenHolders() async throws {
        let keysDir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-coap-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: keysDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: keysDir) }
        let keys = try writeCoAPKeys(in: keysDir)
        let port = Int.random(in: 20000...29999)
        let agent = try TestAgent(arguments: ["--coap", "udp://127.0.0.1:\(port)", "--coap-keys", keys.path])
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let client = try await CoAPTestClient(port: port, token: coapWriter)
        defer { Task { await client.close() } }
        let activation = #"{"image":"test/busybox:1","network":"none","command":["sh","-c","trap 'exit 0' TERM; while true; do sleep 1; done"]}"#

        // No token, a wrong token, a read-only token writing, and bad bodies: refused, nothing created.
        let anonymous = try await client.endpoint.put("/services/s1", to: client.server, payload: Array(activation.utf8))
        #expect(anonymous.code == .unauthorized)
        let stranger = try await CoAPTestClient(port: port, token: "not-a-token-of-this-agent")
        #expect(try await stranger.get("/services").code == .unauthorized)
        await stranger.close()
        let viewer = try await CoAPTestClient(port: port, token: coapReader)
        #expect(try await viewer.put("/services/s1", activation).code == .forbidden)
        #expect(try await viewer.get("/services").code == .content)
        #expect(try await client.put("/services/s1", "not json").code == .badRequest)
        let unknownKey = try await client.put("/services/s1", #"{"image":"test/busybox:1","replicas":2}"#)
        #expect(unknownKey.code == .badRequest && String(decoding: unknownKey.payload, as: UTF8.self).contains("replicas"))
        #expect(try await client.put("/services/s1", #"{"image":"no/such:image"}"#).code == .notFound)
        #expect(try await client.put("/services/bad%20name", activation).code == .badRequest)
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)

        // Activation through libcoap's client: the container runs, labelled with the client's name.
        let put = try runProcess(
            "/usr/bin/coap-client-notls", ["-B", "20", "-O", "65001,\(coapWriter)", "-m", "put", "-e", activation, "coap://127.0.0.1:\(port)/services/s1"])
        #expect(put.status == 0 && CoAPTestClient.field("state", Array(put.stdout.utf8)) == "running", "\(put.stdout) \(put.stderr)")
        let inspect = try agent.ok("inspect", "s1")
        #expect(inspect.contains("\"pier.coap.client\"") && inspect.contains("sensor-1"))
        // The same PUT again changes nothing (2.04, same container); the list shows it.
        let id = try agent.ok("ps", "-q").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await client.put("/services/s1", activation).code == .changed)
        #expect(try agent.ok("ps", "-q").trimmingCharacters(in: .whitespacesAndNewlines) == id)
        let list = try await viewer.get("/services")
        #expect(String(decoding: list.payload, as: UTF8.self).contains("\"name\":\"s1\""))
        await viewer.close()

        // Observe: stop (from the CLI) and start (over CoAP) are notified; removal ends the observation with 4.04.
        let states = StateLog()
        let observer = client.observeStates("/services/s1", into: states)
        #expect(await Self.waitFor(10) { states.all == ["running"] })
        try agent.ok("stop", "s1")
        #expect(await Self.waitFor(10) { states.all.last == "exited" }, "\(states.all)")
        #expect(try await client.post("/services/s1/start").code == .changed)
        #expect(await Self.waitFor(10) { states.all.last == "running" }, "\(states.all)")
        #expect(try await client.post("/services/s1/stop").code == .changed)
        #expect(try await client.delete("/services/s1").code == .deleted)
        #expect(await Self.waitFor(10) { states.all.last == "4.04" }, "\(states.all)")
        observer.cancel()
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)
        #expect(try await client.get("/services/s1").code == .notFound)
        #expect(try await client.delete("/services/s1").code == .notFound)
    }

    @Test func agentRefusesAKeysFileOthersCanRead() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-coap-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let keys = try writeCoAPKeys(in: dir)
        chmod(keys.path, 0o644)
        let r = try runProcess(Binaries.pier.path, ["agent", "--data-root", dir.appendingPathComponent("root").path,
                                                    "--coap", "udp://127.0.0.1:0", "--coap-keys", keys.path], timeout: 30)
        #expect(r.status != 0 && r.stderr.contains("chmod 600"), "\(r.stderr)")
        let half = try runProcess(Binaries.pier.path, ["agent", "--data-root", dir.appendingPathComponent("root").path, "--coap", "udp://127.0.0.1:0"], timeout: 30)
        #expect(half.status != 0 && half.stderr.contains("--coap and --coap-keys go together"), "\(half.stderr)")
    }

    @Test func managerSchedulesServicesActivatedByConstrainedClients() async throws {
        let keysDir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-coap-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: keysDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: keysDir) }
        let keys = try writeCoAPKeys(in: keysDir)
        let port = Int.random(in: 20000...29999)
        let cluster = try TestCluster.start(agents: 2, managerArguments: ["--coap", "udp://127.0.0.1:\(port)", "--coap-keys", keys.path])
        defer { cluster.tearDown() }
        let client = try await CoAPTestClient(port: port, token: coapWriter)
        defer { Task { await client.close() } }
        let body = #"{"image":"test/busybox:1","replicas":2,"network":"none","constraints":["node.hostname!=manager"],"#
            + #""command":["sh","-c","trap 'exit 0' TERM; while true; do sleep 1; done"]}"#

        #expect(try await client.endpoint.get("/services", from: client.server).code == .unauthorized)
        #expect(try await client.put("/services/web", #"{"image":"test/busybox:1","mode":"sideways"}"#).code == .badRequest)
        #expect(try await client.put("/services/web", #"{"image":"no/such:image"}"#).code == .badRequest)
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

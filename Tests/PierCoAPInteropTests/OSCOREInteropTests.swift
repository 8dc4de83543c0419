import PierTestSupport
import Foundation
import NIOCore
import PierCoAP
import PierOSCORE
import Testing

/// Our OSCORE server against aiocoap's OSCORE client (`aiocoap-client --credentials`), and our
/// OSCORE client against aiocoap's OSCORE server (`aiocoap_oscore_server.py` beside this file).
@Suite("OSCORE with aiocoap", .serialized, .requires(Peers.hasAiocoapOSCORE, "aiocoap with OSCORE for python3"), .timeLimit(.minutes(5)))
struct OSCOREInteropTests {
    /// A temporary directory with an aiocoap client context and credentials for `coap://127.0.0.1:PORT/*`.
    final class Setup {
        let dir: URL
        let keys = OSCOREKeys()
        let credentials: URL
        let sequenceDir: String

        init(port: Int) throws {
            dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-oscore-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let context = dir.appendingPathComponent("aiocoap-client")
            try keys.writeAiocoapContext(to: context)
            credentials = dir.appendingPathComponent("credentials.json")
            try OSCOREKeys.writeCredentials(credentials, pattern: "coap://127.0.0.1:\(port)/*", contextDir: context)
            sequenceDir = dir.appendingPathComponent("server").path
        }

        deinit { try? FileManager.default.removeItem(at: dir) }

        /// Our test server with OSCORE for this context, its sequence file under `dir`.
        func server(port: Int) async throws -> TestServer {
            var c = CoAPEndpoint.Configuration()
            c.security = try OSCOREServer(
                clients: [("aiocoap", try keys.serverContext())], file: try OSCORESequenceFile(directory: sequenceDir), lookahead: 4)
            return try await TestServer.start(configuration: c, port: port)
        }

        func client(_ rest: [String], timeout: Double = 30) async throws -> PeerOutput {
            try await AiocoapClientTests.client(["--credentials", credentials.path] + rest, timeout: timeout)
        }
    }

    static func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test("aiocoap-client GETs, PUTs and observes over OSCORE; the server sees who it is")
    func getPutObserve() async throws {
        let port = try await Peers.freePort()
        let setup = try Setup(port: port)
        let server = try await setup.server(port: port)
        let base = "coap://127.0.0.1:\(port)"
        let hello = try await setup.client(["\(base)/hello"])
        let who = try await setup.client(["\(base)/whoami"])
        let put = try await setup.client(["-m", "PUT", "--payload", "sealed", "\(base)/store"])
        let stored = server.store.withLock { $0 }
        let big = try await setup.client(["\(base)/big"])
        // Without credentials the same request reaches the resource unauthenticated.
        let anonymous = try await AiocoapClientTests.client(["\(base)/whoami"])
        let script = Peers.folder.appendingPathComponent("aiocoap_observe.py").path
        let observe = try await PeerProcess.run(
            Peers.python ?? "python3", [script, "\(base)/counter", "2", setup.credentials.path], timeout: 30)
        await server.close()
        #expect(Self.trimmed(hello.stdout) == "hello from pier", "\(hello)")
        #expect(Self.trimmed(who.stdout) == "aiocoap", "\(who)")
        #expect(put.status == 0 && stored == Array("sealed".utf8), "\(put)")
        #expect(Self.trimmed(big.stdout) == Self.trimmed(String(decoding: TestServer.bigBody, as: UTF8.self)), "\(big.stderr)")
        #expect(Self.trimmed(anonymous.stdout) == "anonymous", "\(anonymous)")
        let values = observe.stdout.split(whereSeparator: \.isNewline).compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        #expect(values.count >= 4 && TestServer.areFreshCounterValues(values), "\(observe)")
    }

    @Test("a replayed or altered request is refused; after a restart the old one still is, and aiocoap's next request succeeds")
    func replayAlterationAndRestart() async throws {
        let port = try await Peers.freePort()
        let setup = try Setup(port: port)
        var server = try await setup.server(port: port)
        let proxy = try await LossyProxy.start(to: try Peers.address(port)) { _ in false }
        let viaProxy = "coap://127.0.0.1:\(proxy.address.port ?? 0)"
        // aiocoap picks credentials by URI: the proxy's address gets the same context.
        try OSCOREKeys.writeCredentials(
            setup.credentials, pattern: "coap://127.0.0.1:*", contextDir: setup.dir.appendingPathComponent("aiocoap-client"))

        let put = try await setup.client(["-m", "PUT", "--payload", "once", "\(viaProxy)/store"])
        #expect(put.status == 0 && server.store.withLock { $0 } == Array("once".utf8), "\(put)")
        // The last request through the proxy is the one that was served (the first got an Echo challenge).
        let captured = try #require(proxy.clientDatagrams.last { (try? CoAPMessage(decoding: $0))?.option(.oscore) != nil })
        await proxy.close()
        server.store.withLock { $0 = Array("changed since".utf8) }

        // Replayed from another socket (so no deduplication answers it): refused, nothing changes.
        let replayed = try await RawUDP.exchange(captured, to: try Peers.address(port))
        #expect(replayed.first?.code == .unauthorized && replayed.first?.text.contains("Replay detected") == true, "\(replayed)")
        #expect(server.store.withLock { $0 } == Array("changed since".utf8))

        // Altered: a Partial IV the window has not seen (the same bytes would be a replay) and a
        // flipped ciphertext bit. Refused with 4.00; nothing changes, not even the window.
        var message = try CoAPMessage(decoding: captured)
        message.messageID &+= 1
        message.setOptions(.oscore, [CoAPOption(.oscore, value: OSCOREOptionValue(partialIV: [0x03, 0xE8], kid: OSCOREKeys().clientID).encoded())])
        message.payload[message.payload.count / 2] ^= 0x01
        let altered = try await RawUDP.exchange(try message.encoded(), to: try Peers.address(port))
        #expect(altered.first?.code == .badRequest && altered.first?.text.contains("Decryption failed") == true, "\(altered)")
        // A malformed OSCORE option: 4.02 naming the problem.
        var garbled = try CoAPMessage(decoding: captured)
        garbled.messageID &+= 2
        garbled.setOptions(.oscore, [CoAPOption(.oscore, value: [0x0F])])
        let bad = try await RawUDP.exchange(try garbled.encoded(), to: try Peers.address(port))
        #expect(bad.first?.code == .badOption && bad.first?.text.contains("reserved") == true, "\(bad)")
        #expect(server.store.withLock { $0 } == Array("changed since".utf8))
        let next = try await setup.client(["coap://127.0.0.1:\(port)/store"])
        #expect(Self.trimmed(next.stdout) == "changed since", "\(next)")

        // Restart: a new endpoint and OSCORE state from the same files, on the same port.
        await server.close()
        server = try await setup.server(port: port)
        defer { Task { [server] in await server.close() } }
        // What comes back is sealed with a fresh nonce of the server's own: a 4.01 asking for an Echo.
        let again = try await RawUDP.exchange(captured, to: try Peers.address(port))
        let request = try CoAPMessage(decoding: captured)
        let value = try OSCOREOptionValue(decoding: try #require(request.option(.oscore)).value)
        let binding = OSCORERequestBinding(kid: try #require(value.kid), partialIV: try #require(value.partialIV))
        let challenge = try OSCOREProtection.unprotectResponse(try #require(again.first), context: try setup.keys.clientContext(), binding: binding)
        #expect(challenge.0.code == .unauthorized && challenge.0.option(.echo) != nil && challenge.1 != nil, "\(challenge)")
        #expect(server.store.withLock { $0 } == Array("initial".utf8), "the replay after the restart was served")
        // A fresh request from a new aiocoap process (which persisted its own sequence number) succeeds.
        let fresh = try await setup.client(["-m", "PUT", "--payload", "after restart", "coap://127.0.0.1:\(port)/store"])
        #expect(fresh.status == 0 && server.store.withLock { $0 } == Array("after restart".utf8), "\(fresh)")
        let read = try await setup.client(["coap://127.0.0.1:\(port)/store"])
        #expect(Self.trimmed(read.stdout) == "after restart", "\(read)")
    }

    @Test("our OSCORE client against aiocoap's OSCORE server: GET, PUT, and a wrong key is refused")
    func ourClientAgainstAiocoap() async throws {
        let port = try await Peers.freePort()
        let keys = OSCOREKeys()
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-oscore-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let context = dir.appendingPathComponent("server-context")
        try keys.writeAiocoapContext(to: context, asServer: true)
        let credentials = dir.appendingPathComponent("server-credentials.json")
        try OSCOREKeys.writeCredentials(credentials, pattern: ":pier", contextDir: context)
        let script = Peers.folder.appendingPathComponent("aiocoap_oscore_server.py").path
        let server = try PeerProcess(Peers.python ?? "python3", [script, "\(port)", credentials.path])
        defer { server.kill() }
        try await server.waitForOutput("ready", timeout: 20)

        var configuration = CoAPEndpoint.Configuration()
        configuration.messageLayer.additionalKnownOptions.insert(.oscore)
        let endpoint = try await TestClient.start(configuration: configuration)
        let client = OSCOREClient(context: try keys.clientContext())
        let peer = try Peers.address(port)
        let hello = try await client.request(.get, "/hello", on: endpoint, peer: peer)
        let put = try await client.request(.put, "/store", on: endpoint, peer: peer, payload: Array("sealed".utf8))
        let read = try await client.request(.get, "/store", on: endpoint, peer: peer)
        let stranger = OSCOREClient(context: try OSCOREKeys().clientContext())
        let refused = try await stranger.request(.get, "/hello", on: endpoint, peer: peer)
        try await endpoint.channel.close()
        #expect(hello.code == .content && hello.text == "hello from aiocoap", "\(hello)")
        #expect(put.code == .changed && read.text == "sealed", "\(put) \(read)")
        #expect(refused.code == .badRequest || refused.code == .unauthorized, "\(refused)")
    }
}

import Foundation
import Logging
import NIOCore
import NIOPosix
import PierOSCORE
import Testing

@testable import PierCoAP
@testable import PierCoAPAPI

/// Block-wise uploads to the CoAP interface on a real UDP socket: authorization comes before
/// reassembly, so an unauthorized client's body is refused at its first block and never buffered.
@Suite("The CoAP interface: block-wise uploads are authorized first")
struct ConstrainedBlockwiseTests {
    /// A first block (M=1, 16 bytes) of an activation of `service`, with `token` when given.
    static func firstBlock(_ service: String, token: String?) throws -> [CoAPOption] {
        var options = [try BlockOption(number: 0, more: true, size: 16).option(.block1), CoAPOption(.size1, uint: 4000)]
        if let token { options.append(CoAPOption(CoAPAccessKeys.tokenOption, string: token)) }
        return options
    }

    @Test func unauthorizedAndOutOfScopeUploadsAreRefusedAtTheFirstBlockAndBufferNothing() async throws {
        let secret = Array("0123456789abcdef0123456789abcdef".utf8)
        let serverContext = try OSCORESecurityContext(masterSecret: secret, senderID: [1], recipientID: [0x5a])
        let clientContext = try OSCORESecurityContext(masterSecret: secret, senderID: [0x5a], recipientID: [1])
        let backend = RecordingBackend(role: "agent")
        let keys = CoAPAccessKeys(
            clients: [
                .init(name: "s", scope: CoAPScope(services: ["c"], verbs: [.activate, .status]), oscore: serverContext),
                .init(name: "reader", scope: CoAPScope(services: ["*"], verbs: [.status])),
                .init(name: "writer", scope: CoAPScope(services: ["c"], verbs: [.activate])),
            ],
            tokens: ["reader": "reader-token", "writer": "writer-token"])
        let api = try ConstrainedInterface(backend: backend, keys: keys, stateDirectory: nil, logger: Logger(label: "test"))
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let server = try await CoAPEndpoint.attach(to: channel, resources: api.resources, configuration: api.endpointConfiguration)
        let peer = try #require(channel.localAddress)
        var c = CoAPEndpoint.Configuration()
        c.messageLayer.additionalKnownOptions.insert(.oscore)
        let clientChannel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let endpoint = try await CoAPEndpoint.attach(to: clientChannel, configuration: c)
        defer { Task { try? await channel.close(); try? await clientChannel.close() } }
        func held() async throws -> (transfers: Int, bytes: Int) {
            try await channel.eventLoop.submit { server.blockTransfersForTesting() }.get()
        }

        // One first block, sent by hand: the answer comes at once, not a 2.31 Continue.
        let chunk = Array(repeating: UInt8(ascii: " "), count: 16)
        let plain = try await endpoint.request(.put, "/services/c", peer: peer, options: try Self.firstBlock("c", token: nil), payload: chunk)
        #expect(plain.code == .unauthorized && plain.option(.block1) == nil, "\(plain)")
        let reader = try await endpoint.request(.put, "/services/c", peer: peer, options: try Self.firstBlock("c", token: "reader-token"), payload: chunk)
        #expect(reader.code == .forbidden, "\(reader)")
        let wrongToken = try await endpoint.request(.put, "/services/c", peer: peer, options: try Self.firstBlock("c", token: "guess"), payload: chunk)
        #expect(wrongToken.code == .unauthorized, "\(wrongToken)")
        #expect(try await held() == (0, 0))

        // A whole unauthorized upload in many blocks ends at the first one too.
        var small = c
        small.preferredBlockSZX = 0
        let smallChannel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        defer { Task { try? await smallChannel.close() } }
        let smallEndpoint = try await CoAPEndpoint.attach(to: smallChannel, configuration: small)
        let body = Array(#"{"image":"x","env":["PAD=\#(String(repeating: "p", count: 3000))"]}"#.utf8)
        let whole = try await smallEndpoint.put("/services/c", to: peer, payload: body)
        #expect(whole.code == .unauthorized)
        #expect(try await held() == (0, 0))
        #expect(backend.calls.withLock { $0 }.isEmpty)

        // An authorized client still uploads a body of many blocks (its token on every block).
        let writer = try await smallEndpoint.put(
            "/services/c", to: peer, payload: body, options: [CoAPOption(CoAPAccessKeys.tokenOption, string: "writer-token")])
        #expect(writer.code == .created, "\(writer)")
        #expect(backend.calls.withLock { $0 } == ["activate c x by writer"])
        // And an OSCORE client (its body in one message: OSCORE here has no outer block-wise).
        let client = OSCOREClient(context: clientContext)
        let put = try await client.request(.put, "/services/c", on: endpoint, peer: peer, payload: Array(#"{"image":"y"}"#.utf8))
        #expect(put.code == .changed, "\(put)")
        #expect(backend.calls.withLock { $0 } == ["activate c x by writer", "activate c y by s"])
        #expect(try await held() == (0, 0))
    }
}

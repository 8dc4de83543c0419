import NIOCore
import Testing

@testable import PierCoAP

/// What block-wise reassembly may hold: bytes per peer and in total, and nothing at all for a
/// request the server refuses from its options.
@Suite("Block1 reassembly bounds")
struct BlockwiseBoundsTests {
    /// Block 0 (M=1, 1024 bytes) of a PUT to `path`.
    static func firstBlock(_ path: String, messageID: UInt16 = 1, size: Int = 1024) throws -> CoAPMessage {
        var m = CoAPMessage(type: .confirmable, code: .put, messageID: messageID, token: CoAPToken(UInt64(messageID)))
        m.uriPath = path.split(separator: "/").map(String.init)
        m.setOptions(.block1, [try BlockOption(number: 0, more: true, size: size).option(.block1)])
        m.payload = Array(repeating: 7, count: size)
        return m
    }

    @Test("one peer's unfinished uploads hold at most maxBytesPerPeer; other peers are still served")
    func perPeerBytes() throws {
        var configuration = Block1Reassembler<String>.Configuration()
        configuration.maxBytesPerPeer = 2048
        configuration.maxTransfersPerPeer = 10
        var reassembler = Block1Reassembler<String>(configuration: configuration)
        #expect(reassembler.receive(try Self.firstBlock("a"), from: "p", now: 0) != .passThrough)
        #expect(reassembler.receive(try Self.firstBlock("b"), from: "p", now: 0) != .passThrough)
        #expect(reassembler.bufferedBytes == 2048 && reassembler.activeTransfers == 2)
        guard case .respond(let refused) = reassembler.receive(try Self.firstBlock("c"), from: "p", now: 0) else {
            Issue.record("a third upload was not answered")
            return
        }
        #expect(refused.code == .serviceUnavailable && refused.uint(.maxAge) == 60)
        #expect(refused.payload == Array("block-wise uploads in progress hold too many bytes (2048 per client, 4194304 in all); retry later".utf8))
        #expect(reassembler.bufferedBytes == 2048 && reassembler.activeTransfers == 2)
        // Another peer has its own allowance.
        guard case .respond(let other) = reassembler.receive(try Self.firstBlock("c"), from: "q", now: 0) else {
            Issue.record("another peer's upload was not answered")
            return
        }
        #expect(other.code == .continue)
        // Expiry gives the bytes back.
        reassembler.expire(now: 61)
        #expect(reassembler.bufferedBytes == 0 && reassembler.activeTransfers == 0)
    }

    @Test("all peers' unfinished uploads hold at most maxBytes")
    func totalBytes() throws {
        var configuration = Block1Reassembler<Int>.Configuration()
        configuration.maxBytes = 3 * 1024
        var reassembler = Block1Reassembler<Int>(configuration: configuration)
        for peer in 0..<3 {
            guard case .respond(let r) = reassembler.receive(try Self.firstBlock("x"), from: peer, now: 0) else {
                Issue.record("upload \(peer) was not answered")
                return
            }
            #expect(r.code == .continue)
        }
        guard case .respond(let refused) = reassembler.receive(try Self.firstBlock("x"), from: 99, now: 0) else {
            Issue.record("the fourth upload was not answered")
            return
        }
        #expect(refused.code == .serviceUnavailable)
        #expect(reassembler.bufferedBytes == 3 * 1024)
    }

    @Test("a completed upload releases its bytes")
    func completionReleasesBytes() throws {
        var reassembler = Block1Reassembler<Int>()
        _ = reassembler.receive(try Self.firstBlock("x"), from: 1, now: 0)
        var last = try Self.firstBlock("x", messageID: 2)
        last.setOptions(.block1, [try BlockOption(number: 1, more: false, size: 1024).option(.block1)])
        last.payload = [1, 2, 3]
        guard case .complete(let body, _) = reassembler.receive(last, from: 1, now: 1) else {
            Issue.record("the upload did not complete")
            return
        }
        #expect(body.count == 1027)
        #expect(reassembler.bufferedBytes == 0 && reassembler.activeTransfers == 0)
    }

    /// An endpoint whose `admit` refuses everything without the `pass` query, on a testing channel.
    static func guardedEndpoint(_ link: Link) async throws -> CoAPEndpoint {
        var configuration = endpointConfiguration()
        configuration.admit = { request, _, _ in
            request.uriQuery.contains("pass") ? nil : CoAPResponse(code: .unauthorized, diagnostic: "no credentials")
        }
        return try await CoAPEndpoint.attach(to: link.serverChannel, resources: CoAPEndpointTests.resources, configuration: configuration)
    }

    @Test("a refused Block1 upload is answered at its first block and nothing of it is buffered")
    func refusedAtFirstBlock() async throws {
        let link = try Link()
        let server = try await Self.guardedEndpoint(link)
        for (i, path) in ["echo", "nowhere", ".well-known/core"].enumerated() {
            try await link.serverChannel.writeInbound(
                CoAPEndpointTests.envelope(try Self.firstBlock(path, messageID: UInt16(10 + i)), from: link.clientAddress))
            let reply = try await CoAPEndpointTests.reply(link.serverChannel)
            #expect(reply.code == [CoAPCode.unauthorized, .notFound, .methodNotAllowed][i], "\(path): \(reply)")
            #expect(reply.option(.block1) == nil)
        }
        let held = try await link.serverChannel.testingEventLoop.executeInContext { server.blockTransfersForTesting() }
        #expect(held.transfers == 0 && held.bytes == 0)
        // Admitted, the same first block is buffered and continued.
        var admitted = try Self.firstBlock("echo", messageID: 20)
        admitted.uriQuery = ["pass"]
        try await link.serverChannel.writeInbound(CoAPEndpointTests.envelope(admitted, from: link.clientAddress))
        #expect(try await CoAPEndpointTests.reply(link.serverChannel).code == .continue)
        let after = try await link.serverChannel.testingEventLoop.executeInContext { server.blockTransfersForTesting() }
        #expect(after.transfers == 1 && after.bytes == 1024)
    }
}

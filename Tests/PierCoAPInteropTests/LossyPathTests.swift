import PierTestSupport
import Foundation
import NIOCore
import PierCoAP
import Testing

/// Confirmable exchanges through a UDP proxy that drops datagrams: they complete by retransmission.
@Suite("lossy path: a proxy that drops datagrams", .timeLimit(.minutes(5)))
struct LossyPathTests {
    /// Short timeouts so the retransmissions of a test take a fraction of a second, not the RFC's
    /// 2 s; an exchange still has 0.2 s × (2⁷ − 1) ≈ 25 s before it gives up, so a reply a busy
    /// machine delays is retransmitted, not lost.
    static func quick(_ c: CoAPEndpoint.Configuration = CoAPEndpoint.Configuration()) -> CoAPEndpoint.Configuration {
        var c = c
        c.messageLayer.ackTimeout = 0.2
        c.messageLayer.maxRetransmit = 6
        return c
    }

    @Test("our client → every third datagram dropped → our server: GET, Block1 PUT and Block2 GET all complete")
    func ourClientOurServer() async throws {
        let server = try await TestServer.start()
        let proxy = try await LossyProxy.start(to: server.address) { $0 % 3 == 2 }
        var small = Self.quick(TestClient.smallBlocks())
        small.preferredBlockSZX = 4  // 256-byte blocks: dozens of exchanges, each exposed to loss
        let client = try await TestClient.start(configuration: small)
        var replies: [String] = []
        for _ in 0..<6 { replies.append(try await client.get("/hello", from: proxy.address).text) }
        let numbers = LibcoapClientTests.integers(1000, seed: 21)
        let mean = try await client.put("/average", to: proxy.address, payload: Array(numbers.map(String.init).joined(separator: " ").utf8))
        let sorted = try await client.post("/bubblesort", to: proxy.address, payload: Array("[5,-2,9,0]".utf8))
        let big = try await client.get("/big", from: proxy.address)
        try await client.channel.close()
        await proxy.close()
        await server.close()
        #expect(replies == Array(repeating: "hello from pier", count: 6))
        #expect(mean.code == .changed && Double(mean.text) == Double(numbers.reduce(0, +)) / 1000, "\(mean)")
        #expect(sorted.code == .changed && sorted.text == "[-2,0,5,9]", "\(sorted)")
        #expect(big.payload == TestServer.bigBody)
        #expect(proxy.dropped >= 10, "the proxy dropped \(proxy.dropped) datagrams")
    }

    @Test("coap-client-notls → first datagram and every third dropped → our server: the request is retransmitted and answered",
          .requires(Peers.hasLibcoap, "libcoap3-bin (coap-client-notls, coap-server-notls)"))
    func libcoapClientOurServer() async throws {
        let server = try await TestServer.start()
        let proxy = try await LossyProxy.start(to: server.address) { $0 % 3 == 0 }
        let out = try await LibcoapClientTests.coap(["-m", "put", "-e", "[9,7,8]", "coap://127.0.0.1:\(proxy.address.port ?? 0)/mergesort"], timeout: 40)
        await proxy.close()
        await server.close()
        #expect(out.stdout == "[7,8,9]", "\(out)")
        #expect(proxy.dropped >= 1)
    }

    @Test("our client → every third datagram dropped → coap-server-notls: Block1 PUT and Block2 GET complete",
          .requires(Peers.hasLibcoap, "libcoap3-bin (coap-client-notls, coap-server-notls)"))
    func ourClientLibcoapServer() async throws {
        try await LibcoapServerTests.withServer { server in
            let proxy = try await LossyProxy.start(to: server) { $0 % 3 == 2 }
            var c = Self.quick(TestClient.smallBlocks())
            c.preferredBlockSZX = 3
            let client = try await TestClient.start(configuration: c)
            let body = Array(LibcoapClientTests.integers(300, seed: 2).map(String.init).joined(separator: ",").utf8)
            let put = try await client.put("/lossy", to: proxy.address, payload: body)
            let get = try await client.get("/lossy", from: proxy.address)
            try await client.channel.close()
            await proxy.close()
            #expect(put.code == .created, "\(put)")
            #expect(get.payload == body, "\(get)")
            #expect(proxy.dropped >= 5, "the proxy dropped \(proxy.dropped) datagrams")
        }
    }
}

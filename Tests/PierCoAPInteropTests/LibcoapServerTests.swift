import PierTestSupport
import Foundation
import NIOCore
import PierCoAP
import Testing

/// Our client against libcoap's `coap-server-notls` (its example server: `/`, `/time` observable,
/// `/example_data`, `/async`, and resources created by PUT when started with `-d`).
@Suite("our client → coap-server-notls (libcoap)", .requires(Peers.hasLibcoap, "libcoap3-bin (coap-client-notls, coap-server-notls)"), .timeLimit(.minutes(5)))
struct LibcoapServerTests {
    /// Starts `coap-server-notls` on a free port and waits until it answers.
    static func withServer<T>(_ body: (SocketAddress) async throws -> T) async throws -> T {
        let port = try await Peers.freePort()
        let server = try PeerProcess(Peers.coapServer ?? "coap-server-notls", ["-A", "127.0.0.1", "-p", "\(port)", "-d", "10"])
        defer { server.kill() }
        let address = try Peers.address(port)
        let probe = try await TestClient.start()
        var ready = false
        for _ in 0..<50 where !ready {
            ready = (try? await probe.get("/", from: address).code) == .content
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        try await probe.channel.close()
        guard ready else { throw PeerError.notReady("coap-server-notls", output: await server.stop().description) }
        return try await body(address)
    }

    @Test("discovery lists /time as observable and /example_data")
    func discovery() async throws {
        try await Self.withServer { server in
            let client = try await TestClient.start()
            let links = try await client.discover(server)
            let filtered = try await client.discover(server, query: ["rt=ticks"])
            try await client.channel.close()
            #expect(links.contains { $0.target == "/time" && $0.observable }, "\(links)")
            #expect(links.contains { $0.target == "/example_data" }, "\(links)")
            #expect(filtered.map(\.target) == ["/time"])
        }
    }

    @Test("GET as CON and NON")
    func get() async throws {
        try await Self.withServer { server in
            let client = try await TestClient.start()
            let con = try await client.get("/", from: server)
            let non = try await client.get("/", from: server, confirmable: false)
            try await client.channel.close()
            #expect(con.code == .content && con.text.contains("libcoap"), "\(con)")
            #expect(non.code == .content && non.text.contains("libcoap"), "\(non)")
            #expect(non.type == .nonConfirmable)
        }
    }

    @Test("PUT creates a resource, POST and GET reach it, DELETE removes it")
    func methods() async throws {
        try await Self.withServer { server in
            let client = try await TestClient.start()
            let created = try await client.put("/pier", to: server, payload: Array("made by pier".utf8))
            let read = try await client.get("/pier", from: server)
            let replaced = try await client.put("/pier", to: server, payload: Array("again".utf8), confirmable: false)
            let reread = try await client.get("/pier", from: server)
            let posted = try await client.post("/", to: server, payload: Array("x".utf8))
            let deleted = try await client.delete("/pier", at: server)
            let gone = try await client.get("/pier", from: server)
            try await client.channel.close()
            #expect(created.code == .created, "\(created)")
            #expect(read.text == "made by pier")
            #expect(replaced.code == .changed, "\(replaced)")
            #expect(reread.text == "again")
            // libcoap's example server has no POST handler on `/`.
            #expect(posted.code == .methodNotAllowed, "\(posted)")
            #expect(deleted.code == .deleted, "\(deleted)")
            #expect(gone.code == .notFound, "\(gone)")
        }
    }

    @Test("Block1 PUT of 2000 integers in 16-byte blocks, read back with Block2")
    func blockwise() async throws {
        try await Self.withServer { server in
            let client = try await TestClient.start(configuration: TestClient.smallBlocks())
            let body = Array(LibcoapClientTests.integers(2000, seed: 5).map(String.init).joined(separator: ",").utf8)
            let put = try await client.put("/numbers", to: server, payload: body)
            let get = try await client.get("/numbers", from: server)
            try await client.channel.close()
            #expect(put.code == .created, "\(put)")
            #expect(get.code == .content && get.payload == body, "\(get)")
        }
    }

    @Test("observe /time: several notifications with increasing sequence numbers")
    func observe() async throws {
        try await Self.withServer { server in
            let client = try await TestClient.start()
            let notes = try await TestClient.observe(client, "/time", on: server, count: 3)
            try await client.channel.close()
            #expect(notes.count == 3)
            #expect(notes.allSatisfy { $0.code == .content && !$0.payload.isEmpty }, "\(notes)")
            let sequence = notes.compactMap(\.observe)
            #expect(sequence.count == 3 && sequence == sequence.sorted() && Set(sequence).count == 3, "\(sequence)")
        }
    }
}

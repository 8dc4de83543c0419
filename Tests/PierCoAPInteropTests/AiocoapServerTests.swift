import PierTestSupport
import Foundation
import NIOCore
import PierCoAP
import Testing

/// Our client against an aiocoap server (`aiocoap_server.py` beside this file).
@Suite("our client → aiocoap server", .requires(Peers.hasAiocoap, "aiocoap for python3"), .timeLimit(.minutes(5)))
struct AiocoapServerTests {
    static func withServer<T>(_ body: (SocketAddress) async throws -> T) async throws -> T {
        let port = try await Peers.freePort()
        let script = Peers.folder.appendingPathComponent("aiocoap_server.py").path
        let server = try PeerProcess(Peers.python ?? "python3", [script, "\(port)"])
        defer { server.kill() }
        try await server.waitForOutput("ready", timeout: 20)
        return try await body(try Peers.address(port))
    }

    @Test("discovery, GET as CON and NON, PUT, POST, DELETE")
    func basics() async throws {
        try await Self.withServer { server in
            let client = try await TestClient.start()
            let links = try await client.discover(server)
            let con = try await client.get("/hello", from: server)
            let non = try await client.get("/hello", from: server, confirmable: false)
            let put = try await client.put("/store", to: server, payload: Array("a".utf8))
            let post = try await client.post("/store", to: server, payload: Array("b".utf8), confirmable: false)
            let read = try await client.get("/store", from: server)
            let delete = try await client.delete("/store", at: server)
            let empty = try await client.get("/store", from: server)
            let missing = try await client.get("/missing", from: server)
            try await client.channel.close()
            #expect(Set(links.map(\.target)).isSuperset(of: ["/hello", "/store", "/big", "/counter"]), "\(links)")
            #expect(links.first { $0.target == "/counter" }?.observable == true, "\(links)")
            #expect(con.code == .content && con.text == "hello from aiocoap")
            #expect(non.code == .content && non.text == "hello from aiocoap")
            #expect(put.code == .changed && post.code == .changed, "\(put) \(post)")
            #expect(read.text == "ab")
            #expect(delete.code == .deleted && empty.payload.isEmpty, "\(delete) \(empty)")
            #expect(missing.code == .notFound)
        }
    }

    @Test("Block1 PUT of 2000 integers in 16-byte blocks; Block2 GET of 5000 bytes")
    func blockwise() async throws {
        try await Self.withServer { server in
            let client = try await TestClient.start(configuration: TestClient.smallBlocks())
            let body = Array(LibcoapClientTests.integers(2000, seed: 9).map(String.init).joined(separator: " ").utf8)
            let put = try await client.put("/store", to: server, payload: body)
            let read = try await client.get("/store", from: server)
            let big = try await client.get("/big", from: server)
            try await client.channel.close()
            #expect(put.code == .changed, "\(put)")
            #expect(read.payload == body, "\(read)")
            #expect(big.payload == TestServer.bigBody, "\(big)")
        }
    }

    @Test("observe /counter: several fresh notifications")
    func observe() async throws {
        try await Self.withServer { server in
            let client = try await TestClient.start()
            let notes = try await TestClient.observe(client, "/counter", on: server, count: 4)
            try await client.channel.close()
            let values = notes.compactMap { Int($0.text) }
            #expect(values.count == 4 && values == values.sorted() && Set(values).count == 4, "\(notes)")
        }
    }
}

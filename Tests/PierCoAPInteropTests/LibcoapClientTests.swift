import PierTestSupport
import Foundation
import NIOCore
import PierCoAP
import Testing

/// Our server (a `CoAPEndpoint` on real UDP) against libcoap's `coap-client-notls`.
@Suite("our server ← coap-client-notls (libcoap)", .requires(Peers.hasLibcoap, "libcoap3-bin (coap-client-notls, coap-server-notls)"), .timeLimit(.minutes(5)))
struct LibcoapClientTests {
    static func coap(_ arguments: [String], timeout: Double = 20) async throws -> PeerOutput {
        try await PeerProcess.run(Peers.coapClient ?? "coap-client-notls", ["-B", "15", "-o", "-"] + arguments, timeout: timeout)
    }

    static func integers(_ n: Int, seed: UInt64 = 3) -> [Int] {
        var rng = SplitMix(seed: seed)
        return (0..<n).map { _ in Int(rng.next() % 200_001) - 100_000 }
    }

    @Test("/.well-known/core lists every resource with its attributes")
    func discovery() async throws {
        let server = try await TestServer.start()
        let out = try await Self.coap(["coap://127.0.0.1:\(server.port)/.well-known/core"])
        await server.close()
        let links = try CoAPLinkFormat.parse(out.stdout)
        #expect(Set(links.map(\.target)) == ["/average", "/big", "/bubblesort", "/counter", "/hello", "/mergesort", "/store", "/whoami"], "\(out)")
        #expect(links.first { $0.target == "/counter" }?.observable == true)
        #expect(links.first { $0.target == "/mergesort" }?.resourceTypes == ["pier.compute"])
    }

    @Test("GET as CON and as NON")
    func getConAndNon() async throws {
        let server = try await TestServer.start()
        let con = try await Self.coap(["coap://127.0.0.1:\(server.port)/hello"])
        let non = try await Self.coap(["-N", "coap://127.0.0.1:\(server.port)/hello"])
        await server.close()
        #expect(con.stdout == "hello from pier", "\(con)")
        #expect(non.stdout == "hello from pier", "\(non)")
    }

    @Test("PUT, POST, GET and DELETE change and read a resource")
    func methods() async throws {
        let server = try await TestServer.start()
        let uri = "coap://127.0.0.1:\(server.port)/store"
        let put = try await Self.coap(["-m", "put", "-e", "alpha", uri])
        #expect(put.status == 0 && server.store.withLock { $0 } == Array("alpha".utf8), "\(put)")
        let post = try await Self.coap(["-m", "post", "-N", "-e", "-beta", uri])
        #expect(post.status == 0 && server.store.withLock { $0 } == Array("alpha-beta".utf8), "\(post)")
        let get = try await Self.coap([uri])
        #expect(get.stdout == "alpha-beta", "\(get)")
        let delete = try await Self.coap(["-m", "delete", uri])
        #expect(delete.status == 0 && server.store.withLock { $0 }.isEmpty, "\(delete)")
        let notFound = try await Self.coap(["coap://127.0.0.1:\(server.port)/nothing/here"])
        let notAllowed = try await Self.coap(["-m", "delete", "coap://127.0.0.1:\(server.port)/mergesort"])
        await server.close()
        #expect(notFound.all.contains("4.04"), "\(notFound)")
        #expect(notAllowed.all.contains("4.05"), "\(notAllowed)")
    }

    @Test("Block1 PUT of 2000 integers in 16-byte blocks; the sorted result comes back in Block2")
    func block1Sort() async throws {
        let server = try await TestServer.start()
        let numbers = Self.integers(2000)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pier-coap-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(numbers.map(String.init).joined(separator: ",").utf8).write(to: file)
        let sorted = try await Self.coap(["-m", "put", "-b", "16", "-f", file.path, "coap://127.0.0.1:\(server.port)/mergesort"], timeout: 60)
        let bubble = try await Self.coap(["-m", "post", "-b", "64", "-f", file.path, "coap://127.0.0.1:\(server.port)/bubblesort"], timeout: 60)
        let average = try await Self.coap(["-m", "put", "-b", "16", "-f", file.path, "coap://127.0.0.1:\(server.port)/average"], timeout: 60)
        await server.close()
        let expected = "[" + numbers.sorted().map(String.init).joined(separator: ",") + "]"
        #expect(sorted.stdout == expected, "\(sorted.stderr)")
        #expect(bubble.stdout == expected, "\(bubble.stderr)")
        let mean = Double(numbers.reduce(0, +)) / 2000
        #expect(Double(average.stdout).map { abs($0 - mean) < 1e-9 } == true, "\(average)")
    }

    @Test("Block2 GET of a 5000-byte resource, at the server's block size and at 64 bytes")
    func block2Get() async throws {
        let server = try await TestServer.start()
        let whole = try await Self.coap(["coap://127.0.0.1:\(server.port)/big"])
        let small = try await Self.coap(["-b", "64", "coap://127.0.0.1:\(server.port)/big"])
        await server.close()
        #expect(Array(whole.stdout.utf8) == TestServer.bigBody, "\(whole.stderr)")
        #expect(Array(small.stdout.utf8) == TestServer.bigBody, "\(small.stderr)")
    }

    @Test("observe: several notifications, in order, each newer than the last")
    func observe() async throws {
        let server = try await TestServer.start(tick: 0.2)
        let out = try await Self.coap(["-s", "2", "-w", "coap://127.0.0.1:\(server.port)/counter"])
        await server.close()
        let values = out.stdout.split(separator: "\n").compactMap { Int($0) }
        #expect(values.count >= 4, "\(out)")
        #expect(TestServer.areFreshCounterValues(values), "\(values)")
    }

    @Test("bad input: 4.00 with a diagnostic naming the item")
    func badInput() async throws {
        let server = try await TestServer.start()
        let out = try await Self.coap(["-m", "put", "-e", "[1,2,x3]", "coap://127.0.0.1:\(server.port)/average"])
        await server.close()
        #expect(out.all.contains("4.00") && out.all.contains("item 3 \"x3\" is not an integer"), "\(out)")
    }
}

/// A small deterministic generator, so a failing input can be reproduced.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

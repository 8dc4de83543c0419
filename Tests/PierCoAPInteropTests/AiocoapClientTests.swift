import PierTestSupport
import Foundation
import PierCoAP
import Testing

/// Our server against aiocoap's command-line client (`aiocoap-client`, run as `python3 -m aiocoap.cli.client`).
@Suite("our server ← aiocoap-client", .requires(Peers.hasAiocoap, "aiocoap for python3"), .timeLimit(.minutes(5)))
struct AiocoapClientTests {
    static func arguments(_ rest: [String]) -> [String] {
        ["-m", "aiocoap.cli.client", "--no-color", "--no-pretty-print"] + rest
    }

    static func client(_ rest: [String], timeout: Double = 30) async throws -> PeerOutput {
        try await PeerProcess.run(Peers.python ?? "python3", arguments(rest), timeout: timeout)
    }

    static func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test("discovery, GET as CON and NON, PUT, POST and DELETE")
    func basics() async throws {
        let server = try await TestServer.start()
        let base = "coap://127.0.0.1:\(server.port)"
        let wkc = try await Self.client(["\(base)/.well-known/core"])
        let con = try await Self.client(["\(base)/hello"])
        let non = try await Self.client(["--non", "\(base)/hello"])
        let put = try await Self.client(["-m", "PUT", "--payload", "one", "\(base)/store"])
        let post = try await Self.client(["-m", "POST", "--payload", "+two", "\(base)/store"])
        let stored = server.store.withLock { $0 }
        let delete = try await Self.client(["-m", "DELETE", "\(base)/store"])
        let missing = try await Self.client(["\(base)/missing"])
        await server.close()
        let links = try CoAPLinkFormat.parse(Self.trimmed(wkc.stdout))
        #expect(links.contains { $0.target == "/counter" && $0.observable }, "\(wkc)")
        #expect(links.contains { $0.target == "/average" }, "\(wkc)")
        #expect(Self.trimmed(con.stdout) == "hello from pier", "\(con)")
        #expect(Self.trimmed(non.stdout) == "hello from pier", "\(non)")
        #expect(put.status == 0 && post.status == 0, "\(put)\n\(post)")
        #expect(stored == Array("one+two".utf8))
        #expect(delete.status == 0 && server.store.withLock { $0 }.isEmpty, "\(delete)")
        #expect(missing.all.contains("4.04") || missing.all.contains("Not Found"), "\(missing)")
    }

    @Test("a PUT of 2000 integers goes block-wise; the sorted array comes back in Block2")
    func blockwiseSort() async throws {
        let server = try await TestServer.start()
        let numbers = LibcoapClientTests.integers(2000, seed: 11)
        let out = try await Self.client(
            ["-m", "PUT", "--payload-initial-szx", "0", "--payload", "[" + numbers.map(String.init).joined(separator: ",") + "]",
             "coap://127.0.0.1:\(server.port)/mergesort"], timeout: 60)
        await server.close()
        #expect(Self.trimmed(out.stdout) == "[" + numbers.sorted().map(String.init).joined(separator: ",") + "]", "\(out.stderr)")
    }

    @Test("Block2 GET of a large resource")
    func block2() async throws {
        let server = try await TestServer.start()
        let out = try await Self.client(["coap://127.0.0.1:\(server.port)/big"])
        await server.close()
        #expect(Self.trimmed(out.stdout) == Self.trimmed(String(decoding: TestServer.bigBody, as: UTF8.self)), "\(out.stderr)")
    }

    @Test("observe: several fresh notifications")
    func observe() async throws {
        let server = try await TestServer.start(tick: 0.2)
        // aiocoap-client 0.4.17's --observe cancels the observation after the first response,
        // against any server (libcoap's too); aiocoap_observe.py uses the library's observation API.
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("aiocoap_observe.py").path
        let out = try await PeerProcess.run(Peers.python ?? "python3", [script, "coap://127.0.0.1:\(server.port)/counter", "2.5"], timeout: 30)
        await server.close()
        let values = out.stdout.split(whereSeparator: \.isNewline).compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        // The registration response and about a dozen notifications at 0.2 s.
        #expect(values.count >= 5, "\(out)")
        #expect(TestServer.areFreshCounterValues(values), "\(values)")
    }
}

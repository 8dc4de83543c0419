import PierTestSupport
import Foundation
import NIOCore
import PierCoAP
import Testing

@testable import pier_compute

@Suite("pier-compute: the seed-003 tasks", .timeLimit(.minutes(5)))
struct ComputeServiceTests {
    @Test("parsing: JSON arrays and comma/space lists; anything else is named")
    func parsing() throws {
        #expect(try IntegerList.parse(Array("[3, 1,2]".utf8)) == [3, 1, 2])
        #expect(try IntegerList.parse(Array(" 3 1\n2 ".utf8)) == [3, 1, 2])
        #expect(try IntegerList.parse(Array("-4,+5, 6".utf8)) == [-4, 5, 6])
        #expect(try IntegerList.parse(Array("[]".utf8)) == [])
        #expect(throws: IntegerList.ParseError.notAnInteger(index: 1, text: "")) { try IntegerList.parse(Array("1,,2".utf8)) }
        #expect(throws: IntegerList.ParseError.notAnInteger(index: 1, text: "2.5")) { try IntegerList.parse(Array("1 2.5".utf8)) }
        #expect(throws: IntegerList.ParseError.notAnInteger(index: 0, text: "99999999999999999999")) {
            try IntegerList.parse(Array("99999999999999999999".utf8))
        }
        #expect(throws: IntegerList.ParseError.unbalancedBracket) { try IntegerList.parse(Array("[1,2".utf8)) }
        #expect(throws: IntegerList.ParseError.notUTF8) { try IntegerList.parse([0xff, 0x31]) }
        #expect(throws: IntegerList.ParseError.tooMany(limit: 2)) { try IntegerList.parse(Array("1 2 3".utf8), limit: 2) }
    }

    @Test("average, merge sort and bubble sort agree with the standard library on random input")
    func tasks() {
        var rng = SplitMix(seed: 77)
        for n in [0, 1, 2, 3, 17, 1000, 2000] {
            let a = (0..<n).map { _ in Int.random(in: -1000...1000, using: &rng) }
            #expect(ComputeTask.mergeSort(a) == a.sorted())
            #expect(ComputeTask.bubbleSort(a) == a.sorted())
            if n > 0 { #expect(ComputeTask.average(a) == Double(a.reduce(0, +)) / Double(n)) }
        }
        #expect(ComputeTask.average([]) == nil)
        #expect(ComputeTask.average([Int.max, Int.max]) == Double(Int.max))
        #expect(ComputeTask.average.run([1, 2]) == "1.5")
        #expect(ComputeTask.average.run([2, 4]) == "3")
        #expect(ComputeTask.mergesort.run([2, -1]) == "[-1,2]")
    }

    @Test("the pier-compute executable serves the tasks over UDP; too many integers is 4.13",
          .requires(Requirement.executable(Peers.buildDirectory.appendingPathComponent("pier-compute").path),
                    "pier-compute built beside the tests (`swift build --product pier-compute` with the same scratch path)"))
    func executable() async throws {
        let binary = Peers.buildDirectory.appendingPathComponent("pier-compute").path
        let server = try PeerProcess(binary, ["--host", "127.0.0.1", "--port", "0", "--max-bubble-sort-items", "100"])
        defer { server.kill() }
        try await server.waitForOutput("listening on coap://127.0.0.1:")
        let port = server.stdout.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let peer = try Peers.address(try #require(port, "no port in \(server.stdout)"))
        let client = try await TestClient.start()
        let links = try await client.discover(peer)
        let mean = try await client.put("/average", to: peer, payload: Array("[1,2,3,4]".utf8))
        let sorted = try await client.post("/bubblesort", to: peer, payload: Array("5 4 3".utf8), confirmable: false)
        let tooMany = try await client.put("/bubblesort", to: peer, payload: Array((0..<101).map(String.init).joined(separator: ",").utf8))
        let bad = try await client.put("/mergesort", to: peer, payload: Array("[1,two]".utf8))
        let empty = try await client.put("/average", to: peer, payload: Array("[]".utf8))
        let method = try await client.delete("/average", at: peer)
        // A result larger than a block comes back in Block2: the client asks for blocks 1, 2, …
        // by repeating the PUT without its body, and the service answers from the result it kept.
        var rng = SplitMix(seed: 5)
        let numbers = (0..<2000).map { _ in Int.random(in: -100_000...100_000, using: &rng) }
        let large = try await client.put("/mergesort", to: peer, payload: Array("[\(numbers.map(String.init).joined(separator: ","))]".utf8))
        try await client.channel.close()
        #expect(large.code == .changed && large.text == "[\(numbers.sorted().map(String.init).joined(separator: ","))]", "\(large)")
        #expect(large.option(.block2) == nil)
        #expect(links.map(\.target) == ["/average", "/bubblesort", "/mergesort"])
        #expect(links.allSatisfy { $0.resourceTypes == ["pier.compute"] })
        #expect(mean.code == .changed && mean.text == "2.5" && mean.contentFormat == CoAPContentFormat.json, "\(mean)")
        #expect(sorted.code == .changed && sorted.text == "[3,4,5]", "\(sorted)")
        #expect(tooMany.code == .requestEntityTooLarge && tooMany.text.contains("at most 100"), "\(tooMany)")
        #expect(bad.code == .badRequest && bad.text.contains("item 2 \"two\""), "\(bad)")
        #expect(empty.code == .badRequest, "\(empty)")
        #expect(method.code == .methodNotAllowed, "\(method)")
    }
}

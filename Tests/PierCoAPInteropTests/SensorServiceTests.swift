import PierTestSupport
import Foundation
import NIOCore
import PierCoAP
import Testing

@Suite(
    "pier-sensor: sensors and the LED over UDP",
    .requires(Requirement.executable(Peers.buildDirectory.appendingPathComponent("pier-sensor").path),
              "pier-sensor built beside the tests (`swift build --product pier-sensor` with the same scratch path)"), .timeLimit(.minutes(5)))
struct SensorServiceTests {
    static let binary = Peers.buildDirectory.appendingPathComponent("pier-sensor").path

    static func start(_ arguments: [String]) async throws -> (PeerProcess, SocketAddress) {
        let server = try PeerProcess(binary, ["--host", "127.0.0.1", "--port", "0", "--interval", "0.1"] + arguments)
        try await server.waitForOutput("listening on coap://127.0.0.1:")
        let line = server.stdout.split(separator: "\n").first { $0.contains("listening") } ?? ""
        let port = line.split(separator: ":").dropFirst(3).first?.prefix { $0.isNumber }
        return (server, try Peers.address(try #require(port.flatMap { Int($0) }, "no port in \(server.stdout)")))
    }

    @Test("without --device every value and link says simulated; the LED switches on and off")
    func simulated() async throws {
        let (server, peer) = try await Self.start([])
        defer { server.kill() }
        let client = try await TestClient.start()
        let links = try await client.discover(peer)
        let temperature = try await client.get("/sensors/temperature", from: peer)
        let on = try await client.put("/actuators/led", to: peer, payload: Array("on".utf8))
        let read = try await client.get("/actuators/led", from: peer)
        let bad = try await client.put("/actuators/led", to: peer, payload: Array("dim".utf8))
        let notAllowed = try await client.put("/sensors/temperature", to: peer, payload: Array("1".utf8))
        try await client.channel.close()
        #expect(server.stdout.contains("SIMULATED"))
        #expect(Set(links.map(\.target)) == ["/actuators/led", "/sensors/flame", "/sensors/humidity", "/sensors/temperature"], "\(links)")
        #expect(links.allSatisfy { $0.resourceTypes.contains("simulated") && $0.observable }, "\(links)")
        #expect(temperature.code == .content && temperature.text.contains("\"source\":\"simulated\",\"simulated\":true"), "\(temperature)")
        #expect(on.code == .changed && read.text.contains("\"state\":\"on\""), "\(read)")
        #expect(bad.code == .badRequest && notAllowed.code == .methodNotAllowed)
    }

    @Test("--device reads lines of numbers (a serial port's output, here a file) and observers see each new value")
    func serialLines() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pier-sensor-\(UUID().uuidString).tty")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("21.5 40\n".utf8).write(to: file)
        let (server, peer) = try await Self.start(["--device", file.path])
        defer { server.kill() }
        let client = try await TestClient.start()
        var first = try await client.get("/sensors/temperature", from: peer)
        for _ in 0..<20 where !first.text.contains("21.5") {
            try await Task.sleep(for: .milliseconds(100))
            first = try await client.get("/sensors/temperature", from: peer)
        }
        let humidity = try await client.get("/sensors/humidity", from: peer)
        // Each new line is written once the previous value's notification arrived: the
        // registration answers with the current value, then every line is one notification.
        let updates = ["22.25 41", "23 42", "24.5 43"]
        let notes = try await withThrowingTaskGroup(of: [CoAPMessage].self) { group in
            group.addTask {
                var seen: [CoAPMessage] = []
                for try await n in client.observe("/sensors/temperature", on: peer) {
                    seen.append(n)
                    guard seen.count <= updates.count else { break }
                    let h = try FileHandle(forWritingTo: file)
                    h.seekToEndOfFile()
                    h.write(Data((updates[seen.count - 1] + "\n").utf8))
                    try h.close()
                }
                return seen
            }
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                throw PeerError.timedOut("observe /sensors/temperature", output: server.stdout)
            }
            let first = try await group.next() ?? []
            group.cancelAll()
            return first
        }
        try await client.channel.close()
        #expect(first.text.contains("\"value\":21.5") && first.text.contains("\"source\":\"serial:") && !first.text.contains("simulated"), "\(first)")
        #expect(humidity.text.contains("\"value\":40"), "\(humidity)")
        let values = notes.map(\.text)
        #expect(values.count == 4 && values[1].contains("22.25") && values[2].contains("\"value\":23,") && values[3].contains("24.5"), "\(values)")
    }
}

import PierSpec
import Foundation
import Testing
@testable import PierClient

@Suite("Signal forwarding while attached")
struct SignalForwarderTests {
    @Test func interruptIsForwardedByName() async throws {
        let received = Received()
        let forwarder = SignalForwarder { received.add($0) }
        defer { forwarder.cancel() }
        kill(getpid(), SIGINT)
        kill(getpid(), SIGTERM)
        for _ in 0..<200 where received.names.count < 2 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(received.names.sorted() == ["INT", "TERM"])
    }

    final class Received: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [String] = []
        func add(_ name: String) { lock.withLock { list.append(name) } }
        var names: [String] { lock.withLock { list } }
    }
}

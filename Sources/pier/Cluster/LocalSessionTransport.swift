import Foundation
import PierAgent
import PierCluster
import PierManager

/// The session of an agent that runs in the manager's own process (`pier up`): the same
/// messages as over the network, handed over directly.
struct LocalSessionTransport: SessionTransport {
    let manager: Manager
    let nodeID: String

    func withSession(_ body: @escaping @Sendable (SessionChannel) async throws -> Void) async throws {
        let (inbound, continuation) = AsyncThrowingStream<ManagerMessage, any Error>.makeStream()
        let manager = self.manager, nodeID = self.nodeID
        let token = LockedToken()
        let channel = SessionChannel(inbound: inbound) { message in
            if case .hello(let hello) = message {
                let t = try await manager.attach(
                    nodeID: nodeID, address: nil, hello: hello,
                    send: { continuation.yield($0) }, close: { continuation.finish() })
                token.set(t)
            } else {
                try await manager.receive(nodeID: nodeID, message)
            }
        }
        defer { continuation.finish() }
        do { try await body(channel) } catch {
            if let t = token.get() { await manager.detach(nodeID: nodeID, token: t) }
            throw error
        }
        if let t = token.get() { await manager.detach(nodeID: nodeID, token: t) }
    }
}

/// The session token, set once the hello is answered.
final class LockedToken: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UUID?
    func set(_ v: UUID) { lock.lock(); value = v; lock.unlock() }
    func get() -> UUID? { lock.lock(); defer { lock.unlock() }; return value }
}

import Foundation
import PierCluster

/// One open agent–manager session: the manager's messages, and a way to send ours.
public struct SessionChannel: Sendable {
    public let inbound: AsyncThrowingStream<ManagerMessage, any Error>
    public let send: @Sendable (AgentMessage) async throws -> Void

    public init(inbound: AsyncThrowingStream<ManagerMessage, any Error>, send: @escaping @Sendable (AgentMessage) async throws -> Void) {
        self.inbound = inbound; self.send = send
    }
}

/// How an agent reaches its manager: a WebSocket over mutual TLS for a remote manager,
/// or direct calls when both run in one process (`pier up`).
public protocol SessionTransport: Sendable {
    /// Opens a session, runs `body` with it, and closes it when `body` returns or throws.
    func withSession(_ body: @escaping @Sendable (SessionChannel) async throws -> Void) async throws
}

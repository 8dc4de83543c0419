import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import PierAccess
import PierAPI
import PierCluster
import PierPKI

/// The remote-only endpoints: `POST /v1/join` (token → node certificate), certificate
/// renewal, and `GET /v1/session`, the WebSocket each agent keeps open. Who may call them is
/// `AccessPolicy.managerAPI`; which messages a session may carry, `AccessPolicy.sessionMessages`.
struct SessionRoutes: Sendable {
    let manager: Manager
    let membership: Membership
    let logger: Logger
    static let maxMessage = 4 << 20

    func add(to router: Router<ManagerRequestContext>) {
        let manager = self.manager, membership = self.membership, logger = self.logger
        router.post("v1/join") { req, ctx in
            await JSONResponses.respond {
                let join = try await JSONResponses.decode(JoinRequest.self, req, limit: 64 << 10)
                return try await membership.join(join, address: ctx.channel.remoteAddress?.ipAddress)
            }
        }
        router.post("v1/certificate/renew") { req, ctx in
            await JSONResponses.respond {
                guard let peer = ctx.peer else { throw ManagerError.unauthorized("renewal needs the node's current certificate") }
                let renew = try await JSONResponses.decode(RenewRequest.self, req, limit: 64 << 10)
                return try await membership.renew(peer, csr: renew.csr)
            }
        }
        router.ws("v1/session") { _, ctx in
            ctx.peer == nil ? .dontUpgrade : .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            guard let peer = context.requestContext.peer else { return }
            let address = context.requestContext.channel.remoteAddress?.ipAddress
            let (queue, queued) = AsyncStream<ManagerMessage>.makeStream()
            // The manager never waits on a slow link: it queues, this task writes.
            let writer = Task {
                let encoder = SessionCoding.encoder()
                for await message in queue {
                    guard let data = try? encoder.encode(message) else { continue }
                    do { try await outbound.write(.text(String(decoding: data, as: UTF8.self))) } catch { break }
                }
                try? await outbound.close(.normalClosure, reason: nil)
            }
            let decoder = SessionCoding.decoder()
            var token: UUID?
            do {
                for try await message in inbound.messages(maxSize: Self.maxMessage) {
                    let data: Data
                    switch message {
                    case .text(let s): data = Data(s.utf8)
                    case .binary(let b): data = Data(b.readableBytesView)
                    }
                    let decoded: AgentMessage
                    do { decoded = try decoder.decode(AgentMessage.self, from: data) } catch {
                        logger.warning("node \(peer.nodeID) sent a malformed message: \(error)")
                        break
                    }
                    if let denied = AccessPolicy.authorizeMessage(peer.caller, kind: decoded.kind.rawValue) {
                        logger.warning("session of \(peer.nodeID) closed: \(denied)")
                        break
                    }
                    if token == nil {
                        guard case .hello(let hello) = decoded else {
                            logger.warning("node \(peer.nodeID) did not start its session with hello")
                            break
                        }
                        token = try await manager.attach(
                            nodeID: peer.nodeID, address: address, hello: hello,
                            send: { queued.yield($0) }, close: { queued.finish() })
                    } else {
                        try await manager.receive(nodeID: peer.nodeID, decoded)
                    }
                }
            } catch {
                logger.info("session of node \(peer.nodeID) ended: \(error)")
            }
            if let token { await manager.detach(nodeID: peer.nodeID, token: token) }
            queued.finish()
            await writer.value
        }
    }
}

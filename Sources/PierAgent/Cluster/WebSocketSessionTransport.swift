import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOSSL
import PierCluster
import PierPKI

/// The session with a remote manager: a WebSocket at `wss://MANAGER/v1/session`, mutual TLS
/// with this node's certificate. The certificate is renewed on connect once a third of its
/// validity is left.
public struct WebSocketSessionTransport: SessionTransport {
    let membership: ClusterMembership
    let logger: Logger
    static let maxMessage = 4 << 20

    public init(membership: ClusterMembership, logger: Logger) {
        self.membership = membership
        self.logger = logger
    }

    /// The TLS server name for `host`. SNI cannot carry an IP address (RFC 6066 §3) and the
    /// client would otherwise put the URL's host there; the manager does not check names
    /// (trust is the cluster CA and the manager role), so any valid name serves.
    static func sniHostname(for host: String) -> String? {
        IPAddressText.isIP(host) ? "pier-manager" : nil
    }

    /// Renews the node certificate when less than a third of its validity is left; on failure
    /// the current one is kept (and tried again at the next check).
    func renewIfDue(_ identity: NodeIdentity) async -> NodeIdentity {
        guard identity.needsRenewal() else { return identity }
        do {
            let renewed = try await membership.renew(identity)
            logger.info("node certificate renewed; valid until \(renewed.notValidAfter)")
            return renewed
        } catch {
            logger.warning("certificate renewal failed, using the current one: \(error)")
            return identity
        }
    }

    /// Checks a tenth of the validity apart (at most hourly, at least every second) until cancelled.
    func renewWhileConnected() async {
        while !Task.isCancelled {
            let validity = (try? membership.identity().validity) ?? 3600
            try? await Task.sleep(for: .seconds(max(1, min(3600, validity / 10))))
            guard !Task.isCancelled, let current = try? membership.identity() else { continue }
            _ = await renewIfDue(current)
        }
    }

    public func withSession(_ body: @escaping @Sendable (SessionChannel) async throws -> Void) async throws {
        let identity = await renewIfDue(try membership.identity())
        let address = try ManagerAddress(parsing: try membership.managerAddress())
        let tls = try ClientTLS(identity: identity).configuration
        let logger = self.logger
        try await WebSocketClient.connect(
            url: "wss://\(address.urlHost):\(address.port)/v1/session",
            configuration: .init(maxFrameSize: Self.maxMessage, sniHostname: Self.sniHostname(for: address.host)),
            tlsConfiguration: tls, logger: logger
        ) { inbound, outbound, _ in
            let (stream, continuation) = AsyncThrowingStream<ManagerMessage, any Error>.makeStream()
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            let channel = SessionChannel(inbound: stream) { message in
                let data = try encoder.encode(message)
                try await outbound.write(.text(String(decoding: data, as: UTF8.self)))
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let decoder = JSONDecoder()
                    decoder.dateDecodingStrategy = .iso8601
                    do {
                        for try await message in inbound.messages(maxSize: Self.maxMessage) {
                            let data: Data
                            switch message {
                            case .text(let s): data = Data(s.utf8)
                            case .binary(let b): data = Data(b.readableBytesView)
                            }
                            continuation.yield(try decoder.decode(ManagerMessage.self, from: data))
                        }
                        continuation.finish()
                    } catch {
                        continuation.finish(throwing: error)
                    }
                }
                group.addTask { try await body(channel) }
                // A session may outlive the certificate it opened with: renew while it lasts,
                // so the next connection (and the next renewal) has a valid one.
                group.addTask { await self.renewWhileConnected() }
                try await group.next()
                group.cancelAll()
            }
        }
    }
}

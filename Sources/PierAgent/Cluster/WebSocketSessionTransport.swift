import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOSSL
import PierAccess
import PierCluster
import PierPKI
import Synchronization
import X509

/// The session with a remote manager: a WebSocket at `wss://MANAGER/v1/session`, mutual TLS
/// with this node's certificate, to a server that must hold a manager's certificate (its server
/// name `pier-manager` is checked whatever address is dialled). The certificate is renewed at its
/// renewal time (between 50 % and 80 % of its life), checked on connect and while connected, and
/// at once when the manager asks (a CA rotation).
public final class WebSocketSessionTransport: SessionTransport {
    let membership: ClusterMembership
    let trust: NodeTrust
    let logger: Logger
    /// The clock renewal decisions read (tests move it).
    let now: @Sendable () -> Date
    static let maxMessage = 4 << 20
    /// One renewal at a time.
    private let renewing = Mutex(false)

    public init(membership: ClusterMembership, trust: NodeTrust, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.membership = membership
        self.trust = trust
        self.logger = logger
        self.now = now
    }

    /// Renews the node certificate when its renewal time has come (or when `force`); on failure
    /// the current one is kept (and tried again at the next check).
    @discardableResult
    func renewIfDue(_ identity: NodeIdentity, force: Bool = false) async -> NodeIdentity {
        guard force || identity.needsRenewal(now: now()) else { return identity }
        guard renewing.withLock({ busy in defer { busy = true }; return !busy }) else { return identity }
        defer { renewing.withLock { $0 = false } }
        do {
            let renewed = try await membership.renew(identity)
            try trust.renewed(renewed)
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
            await renewIfDue(current)
        }
    }

    /// What the manager sent on the session: the roots to trust and the identities to refuse are
    /// saved and take effect on the direct port; during a CA rotation the certificate is renewed
    /// from the new CA (once the node trusts it).
    func apply(_ update: TrustUpdate) async {
        do {
            let roots = try update.roots.flatMap { try Certificate.all(pem: $0, what: "a root the manager sent") }
            guard !roots.isEmpty else { throw ClusterJoinError.refused("the manager sent no root to trust") }
            try trust.apply(roots: roots, revocations: update.revocations)
            guard update.renew, let identity = try? membership.identity() else { return }
            // Renew unless the first root (the rotation's new CA) issued the certificate already.
            let issuedByNew = identity.certificate.issuer == roots[0].subject
            if !issuedByNew {
                Task { await self.renewIfDue(identity, force: true) }
            }
        } catch {
            logger.error("cannot apply the trust update from the manager: \(error)")
        }
    }

    public func withSession(_ body: @escaping @Sendable (SessionChannel) async throws -> Void) async throws {
        let identity = await renewIfDue(try membership.identity())
        let address = try ManagerAddress(parsing: try membership.managerAddress())
        let client = try ClientTLS(identity: identity, server: .manager)
        let logger = self.logger
        try await WebSocketClient.connect(
            url: "wss://\(address.urlHost):\(address.port)/v1/session",
            configuration: .init(maxFrameSize: Self.maxMessage, sniHostname: client.serverName),
            tlsConfiguration: client.configuration, logger: logger
        ) { inbound, outbound, _ in
            let (stream, continuation) = AsyncThrowingStream<ManagerMessage, any Error>.makeStream()
            let encoder = SessionCoding.encoder()
            let channel = SessionChannel(inbound: stream) { message in
                let data = try encoder.encode(message)
                try await outbound.write(.text(String(decoding: data, as: UTF8.self)))
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let decoder = SessionCoding.decoder()
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

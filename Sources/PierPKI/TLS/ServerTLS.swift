import NIOCore
import NIOSSL
import PierAccess
import Synchronization
import X509

/// The identity a server presents, replaced in place when it is renewed or reissued under a new
/// CA: the next handshake presents the new one, open connections keep theirs.
public final class ServingIdentity: Sendable {
    private struct Current {
        var identity: NodeIdentity
        var chain: [NIOSSLCertificateSource]
        var key: NIOSSLPrivateKeySource
    }
    private let current: Mutex<Current>

    /// - Parameter presenting: extra CA certificates to send after the identity's own chain (a
    ///   manager sends every root it trusts, so a joining node finds the one its token pins).
    public init(_ identity: NodeIdentity, presenting extra: [Certificate] = []) throws {
        current = Mutex(try Self.make(identity, extra))
    }

    public var identity: NodeIdentity { current.withLock { $0.identity } }

    /// Serves `identity` from the next handshake on.
    public func replace(with identity: NodeIdentity, presenting extra: [Certificate] = []) throws {
        let made = try Self.make(identity, extra)
        current.withLock { $0 = made }
    }

    var sources: (chain: [NIOSSLCertificateSource], key: NIOSSLPrivateKeySource) {
        current.withLock { ($0.chain, $0.key) }
    }

    private static func make(_ identity: NodeIdentity, _ extra: [Certificate]) throws -> Current {
        var chain = try identity.tlsCertificateChain()
        let included = Set(try ([identity.certificate] + identity.intermediates + [identity.roots[0]]).map { try $0.derBytes() })
        for certificate in extra where !included.contains(try certificate.derBytes()) {
            chain.append(.certificate(try NIOSSLCertificate(bytes: try certificate.derBytes(), format: .der)))
        }
        return Current(identity: identity, chain: chain, key: try identity.tlsPrivateKey())
    }
}

/// TLS for a node's listener: the manager's TCP API and an agent's direct port.
///
/// The server presents its current identity (``ServingIdentity``). Client certificates are
/// optional at the TLS layer, so an agent that has not joined yet can reach the join endpoint; a
/// certificate that is presented must pass ``ClusterTrust`` (chain to a cluster CA, unexpired,
/// clientAuth, not revoked, one of `allowedClients`) or the handshake fails. Routes then read the
/// caller with ``peerIdentity(of:)`` and decide by ``AccessPolicy``.
public struct ServerTLS: Sendable {
    /// The NIOSSL configuration: TLS 1.3, client certificates optional and verified by
    /// ``verificationCallback``, the certificate presented taken from the serving identity at
    /// each handshake.
    public let configuration: TLSConfiguration
    /// Who is trusted, and who is revoked.
    public let trust: ClusterTrust
    /// The roles whose certificates may connect at all; nil: every role of the cluster.
    public let allowedClients: Set<Role>?
    public let identity: ServingIdentity
    let context: NIOSSLContext

    public init(identity: ServingIdentity, trust: ClusterTrust, allowedClients: Set<Role>? = nil) throws {
        let (chain, key) = identity.sources
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateVerification = .optionalVerification
        // Verification is the custom callback's; these roots only let BoringSSL ask for a client
        // certificate, and refuse everything if the callback were ever missing.
        configuration.trustRoots = .certificates([])
        configuration.sslContextCallback = { _, promise in
            var override = NIOSSLContextConfigurationOverride()
            let (chain, key) = identity.sources
            override.certificateChain = chain
            override.privateKey = key
            promise.succeed(override)
        }
        self.configuration = configuration
        self.trust = trust
        self.allowedClients = allowedClients
        self.identity = identity
        self.context = try NIOSSLContext(configuration: configuration)
    }

    /// A server for one fixed identity.
    public init(identity: NodeIdentity, trust: ClusterTrust, allowedClients: Set<Role>? = nil) throws {
        try self.init(identity: try ServingIdentity(identity), trust: trust, allowedClients: allowedClients)
    }

    /// The handshake-time check of a client certificate, in the form Hummingbird's
    /// `TLSChannelConfiguration(tlsConfiguration:customVerificationCallback:)` takes. It is
    /// only called when the client presents a certificate.
    public var verificationCallback: @Sendable ([NIOSSLCertificate], EventLoopPromise<NIOSSLVerificationResult>) -> Void {
        trust.verificationCallback(side: .client, allowedRoles: allowedClients)
    }

    /// A server handler for a raw NIO pipeline, verifying client certificates with
    /// ``ClusterTrust`` at the handshake; afterwards the handler's `peerValidatedCertificateChain`
    /// holds the validated chain. Call on the channel's event loop.
    public func makeServerHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(
            context: context,
            customVerificationCallbackWithMetadata: trust.verificationCallbackWithMetadata(side: .client, allowedRoles: allowedClients)
        )
    }

    /// The identity of the client on `channel`, or nil if it presented no certificate. Checks
    /// again what can change after the handshake: expiry, revocation, membership.
    public func peerIdentity(of channel: any Channel) async throws -> PeerIdentity? {
        try await trust.peerIdentity(of: channel, allowedRoles: allowedClients)
    }
}

import NIOCore
import NIOSSL
import X509

/// TLS for a node's listener: the manager's TCP API (and an agent's direct-mode port).
///
/// The server presents its node certificate and the CA. Client certificates are optional at the
/// TLS layer, so an agent that has not joined yet can reach the join endpoint; a certificate that
/// is presented must pass ``ClusterTrust`` (chain to the cluster CA, unexpired, clientAuth, node
/// not removed) or the handshake fails. Routes other than join must then require
/// ``peerIdentity(of:)`` to be non-nil.
public struct ServerTLS: Sendable {
    /// The NIOSSL configuration: TLS 1.3, this node's chain, client certificates optional and
    /// verified against the cluster CA only.
    ///
    /// Used alone (without ``verificationCallback``), BoringSSL checks the chain and the validity
    /// period at the handshake, and the removed-node check happens in ``peerIdentity(of:)``.
    public let configuration: TLSConfiguration
    /// Who is trusted, and which nodes are removed.
    public let trust: ClusterTrust
    let context: NIOSSLContext

    public init(identity: NodeIdentity, trust: ClusterTrust) throws {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try identity.tlsCertificateChain(),
            privateKey: try identity.tlsPrivateKey()
        )
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateVerification = .optionalVerification
        configuration.trustRoots = .certificates([
            try NIOSSLCertificate(bytes: try trust.caCertificate.derBytes(), format: .der)
        ])
        self.configuration = configuration
        self.trust = trust
        self.context = try NIOSSLContext(configuration: configuration)
    }

    /// The handshake-time check of a client certificate, in the form Hummingbird's
    /// `TLSChannelConfiguration(tlsConfiguration:customVerificationCallback:)` takes. It is
    /// only called when the client presents a certificate.
    public var verificationCallback: @Sendable ([NIOSSLCertificate], EventLoopPromise<NIOSSLVerificationResult>) -> Void {
        trust.verificationCallback(side: .client)
    }

    /// A server handler for a raw NIO pipeline, verifying client certificates with
    /// ``ClusterTrust`` at the handshake; afterwards the handler's `peerValidatedCertificateChain`
    /// holds the validated chain. Call on the channel's event loop.
    public func makeServerHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(
            context: context,
            customVerificationCallbackWithMetadata: trust.verificationCallbackWithMetadata(side: .client)
        )
    }

    /// The verified identity of the client on `channel`, or nil if it presented no certificate.
    /// Re-checks the certificate, so a node removed after it connected is refused here.
    public func peerIdentity(of channel: any Channel) async throws -> PeerIdentity? {
        try await trust.peerIdentity(of: channel, side: .client)
    }
}

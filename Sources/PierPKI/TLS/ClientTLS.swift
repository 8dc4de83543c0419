import NIOCore
import NIOSSL
import X509

/// TLS for a node that has joined (an agent, or an admin client with a node certificate)
/// talking to the manager: it presents its node certificate and trusts only the cluster CA.
public struct ClientTLS: Sendable {
    /// The NIOSSL configuration, for clients that take only a configuration (AsyncHTTPClient):
    /// TLS 1.3, this node's chain, the cluster CA as the only root, chain and validity checked by
    /// BoringSSL, no hostname check. It cannot check that the server is a manager rather than
    /// another node of the cluster; ``makeClientHandler(serverHostname:)`` does.
    public let configuration: TLSConfiguration
    /// Who is trusted as the server.
    public let trust: ClusterTrust
    /// The role the server must hold in ``makeClientHandler(serverHostname:)``.
    public let serverRole: NodeRole?
    let context: NIOSSLContext

    /// - Parameter serverRole: the role the server's certificate must name; `nil` accepts any
    ///   node of the cluster (an agent's direct-mode port).
    public init(identity: NodeIdentity, serverRole: NodeRole? = .manager, trust: ClusterTrust? = nil) throws {
        let trust = trust ?? ClusterTrust(caCertificate: identity.caCertificate)
        var configuration = try Self.baseConfiguration(trusting: trust.caCertificate)
        configuration.certificateChain = try identity.tlsCertificateChain()
        configuration.privateKey = try identity.tlsPrivateKey()
        self.configuration = configuration
        self.trust = trust
        self.serverRole = serverRole
        self.context = try NIOSSLContext(configuration: configuration)
    }

    /// A configuration without a client certificate that trusts only `caCertificate`: for the join
    /// request once ``JoinTLS`` has pinned the CA, from a client that takes only a configuration.
    public static func anonymous(trusting caCertificate: Certificate) throws -> TLSConfiguration {
        try baseConfiguration(trusting: caCertificate)
    }

    /// A client handler for a raw NIO pipeline that also requires the server to hold
    /// ``serverRole`` and not be removed. `serverHostname` is sent as SNI only (an IP address is
    /// not allowed there; pass nil). Call on the channel's event loop.
    public func makeClientHandler(serverHostname: String? = nil) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(
            context: context,
            serverHostname: serverHostname,
            customVerificationCallbackWithMetadata: trust.verificationCallbackWithMetadata(side: .server, requiredRole: serverRole)
        )
    }

    /// The verified identity of the server on `channel`.
    public func peerIdentity(of channel: any Channel) async throws -> PeerIdentity? {
        try await trust.peerIdentity(of: channel, side: .server)
    }

    static func baseConfiguration(trusting caCertificate: Certificate) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates([
            try NIOSSLCertificate(bytes: try caCertificate.derBytes(), format: .der)
        ])
        return configuration
    }
}

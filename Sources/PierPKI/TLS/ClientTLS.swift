import NIOCore
import NIOSSL
import PierAccess
import X509

/// TLS for a node or a client of the cluster dialling a server of the cluster: it presents its
/// certificate, trusts only the cluster CA(s), and requires the server to hold a node certificate
/// of the expected role — checked as the server name the role's certificates carry
/// (`pier-manager`, or `pier-node` for any node), whatever address was dialled. So a worker's
/// certificate cannot pose as the manager, and a client's (which names no server) as anything.
/// The check happens in the handshake: a refused server gets no token and no request.
public struct ClientTLS: Sendable {
    /// The NIOSSL configuration for clients that take only a configuration (AsyncHTTPClient, the
    /// WebSocket client): TLS 1.3, this identity's chain, the cluster CA(s) as the only roots,
    /// full verification. The connection's TLS server name must be ``serverName``: dial
    /// `https://<serverName>:PORT` with a DNS override to the real address, or pass it as SNI.
    public let configuration: TLSConfiguration
    /// The name the server's certificate must carry.
    public let serverName: String
    /// Who is trusted as the server, for ``makeClientHandler()``.
    public let trust: ClusterTrust
    /// The roles the server may hold.
    public let serverRoles: Set<Role>
    let context: NIOSSLContext

    /// - Parameter server: the role the server must hold; nil accepts any node of the cluster (an
    ///   agent's direct port).
    public init(identity: NodeIdentity, server: Role? = .manager, onRefusal: @escaping @Sendable (PKIError) -> Void = { _ in }) throws {
        let roots = identity.roots
        var configuration = try Self.baseConfiguration(trusting: roots)
        configuration.certificateChain = try identity.tlsCertificateChain()
        configuration.privateKey = try identity.tlsPrivateKey()
        try self.init(configuration: configuration, roots: roots, server: server, onRefusal: onRefusal)
    }

    /// Without a client certificate, trusting `roots`: the join request once ``JoinTLS`` has
    /// pinned the CA, or a registry client that has only a CA.
    public init(anonymousTrusting roots: [Certificate], server: Role? = .manager) throws {
        try self.init(configuration: try Self.baseConfiguration(trusting: roots), roots: roots, server: server, onRefusal: { _ in })
    }

    private init(configuration: TLSConfiguration, roots: [Certificate], server: Role?, onRefusal: @escaping @Sendable (PKIError) -> Void) throws {
        self.configuration = configuration
        self.serverName = server?.serverName ?? Role.anyNodeServerName
        self.serverRoles = server.map { [$0] } ?? Role.nodes
        self.trust = ClusterTrust(anchors: TrustAnchors(roots: roots), onRefusal: onRefusal)
        self.context = try NIOSSLContext(configuration: configuration)
    }

    /// A client handler for a raw NIO pipeline that checks the server with ``ClusterTrust``: a
    /// node certificate of the expected role. Sends ``serverName`` as SNI. Call on the channel's
    /// event loop.
    public func makeClientHandler() throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(
            context: context,
            serverHostname: serverName,
            customVerificationCallbackWithMetadata: trust.verificationCallbackWithMetadata(side: .server, allowedRoles: serverRoles)
        )
    }

    /// The verified identity of the server on `channel`.
    public func peerIdentity(of channel: any Channel) async throws -> PeerIdentity? {
        try await trust.peerIdentity(of: channel, allowedRoles: serverRoles)
    }

    static func baseConfiguration(trusting roots: [Certificate]) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = .certificates(try roots.map { try NIOSSLCertificate(bytes: try $0.derBytes(), format: .der) })
        return configuration
    }
}

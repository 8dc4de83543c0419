import NIOCore
import NIOSSL
import PierAccess
import X509

/// TLS for an agent joining a cluster: it has no certificate yet and knows the CA only by the
/// fingerprint in its join token.
///
/// The server is trusted only if one of the certificates it presents is a CA whose SHA-256
/// fingerprint is the token's, and its own certificate chains to that CA, is unexpired, and names
/// a manager. Verification is never disabled: the custom callback replaces BoringSSL's check with
/// this one, and the context behind it trusts no roots, so it refuses everything if used without
/// the callback.
public struct JoinTLS: Sendable {
    /// The token whose CA digest is pinned.
    public let token: JoinToken
    let context: NIOSSLContext

    public init(token: JoinToken) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates([])
        self.token = token
        self.context = try NIOSSLContext(configuration: configuration)
    }

    /// Checks a presented server chain (leaf first) against the pinned fingerprint and returns the
    /// pinned CA certificate with the validated chain.
    public func verify(presented: [NIOSSLCertificate]) async throws -> (ca: Certificate, chain: NIOSSL.ValidatedCertificateChain) {
        var pinned: Certificate?
        for certificate in presented {
            guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else { continue }
            if let fingerprint = try? parsed.sha256Fingerprint(), token.pins(caFingerprint: fingerprint) {
                pinned = parsed
                break
            }
        }
        guard let ca = pinned else {
            throw PKIError.untrusted(
                "the server presented no CA with fingerprint \(token.caFingerprint); the token is for another cluster, or this is not your manager")
        }
        let trust = ClusterTrust(caCertificate: ca)
        let (_, chain) = try await trust.verify(presented: presented, side: .server, allowedRoles: [.manager])
        return (ca, chain)
    }

    /// A client handler that performs the pinned check at the handshake, sending the manager's
    /// server name as SNI. Call on the channel's event loop.
    public func makeClientHandler() throws -> NIOSSLClientHandler {
        let verifier = self
        return try NIOSSLClientHandler(
            context: context,
            serverHostname: Role.manager.serverName,
            customVerificationCallbackWithMetadata: { presented, promise in
                promise.completeWithTask {
                    do {
                        let (_, chain) = try await verifier.verify(presented: presented)
                        return .certificateVerified(VerificationMetadata(chain))
                    } catch {
                        return .failed
                    }
                }
            }
        )
    }

    /// The pinned cluster CA of a connection made with ``makeClientHandler(serverHostname:)``,
    /// after its handshake: save it as the node's `ca.pem`.
    public func pinnedCA(of channel: any Channel) async throws -> Certificate {
        guard let chain = try await channel.nioSSL_peerValidatedCertificateChain().get(), let root = chain.last else {
            throw PKIError.untrusted("the connection has no validated server chain; was it made with JoinTLS.makeClientHandler()?")
        }
        let ca = try Certificate(derEncoded: try root.toDERBytes())
        guard token.pins(caFingerprint: try ca.sha256Fingerprint()) else {
            throw PKIError.untrusted("the server's CA does not have the token's fingerprint \(token.caFingerprint)")
        }
        return ca
    }
}

import Foundation
import NIOCore
import NIOSSL
import X509

/// Decides whether a peer's certificate belongs to a current member of the cluster: it chains to
/// the cluster CA (RFC 5280 path validation at the current time), has the extended key usage for
/// its side of the connection, names a node (CN, OU role, O cluster id), and the node has not
/// been removed.
///
/// Hostnames are not checked: every node certificate comes from the cluster CA with a subject the
/// manager chose, and devices behind NAT reach the manager by addresses its certificate cannot
/// list in advance. Clients instead require the server to hold the `pier-manager` role.
public struct ClusterTrust: Sendable {
    /// Which side of a TLS connection the verified peer is on.
    public enum PeerSide: Sendable {
        /// The peer is a client (requires the clientAuth extended key usage).
        case client
        /// The peer is a server (requires the serverAuth extended key usage).
        case server
    }

    /// The cluster CA, the only trusted root.
    public let caCertificate: Certificate
    /// Whether the node with this id has been removed; its certificate is then refused.
    /// Node ids must not be reused after removal.
    public var isRevoked: @Sendable (String) async -> Bool
    /// Called with the reason whenever a certificate is refused, for logging.
    public var onRefusal: @Sendable (PKIError) -> Void

    public init(
        caCertificate: Certificate,
        isRevoked: @escaping @Sendable (String) async -> Bool = { _ in false },
        onRefusal: @escaping @Sendable (PKIError) -> Void = { _ in }
    ) {
        self.caCertificate = caCertificate
        self.isRevoked = isRevoked
        self.onRefusal = onRefusal
    }

    /// Verifies `leaf` (with any `intermediates` the peer sent) and returns the validated chain,
    /// leaf first and the CA last, with the peer's identity.
    public func verify(
        leaf: Certificate,
        intermediates: [Certificate] = [],
        side: PeerSide,
        requiredRole: NodeRole? = nil
    ) async throws -> (identity: PeerIdentity, chain: [Certificate]) {
        do {
            return try await verifyUnreported(leaf: leaf, intermediates: intermediates, side: side, requiredRole: requiredRole)
        } catch let error as PKIError {
            onRefusal(error)
            throw error
        }
    }

    private func verifyUnreported(
        leaf: Certificate,
        intermediates: [Certificate],
        side: PeerSide,
        requiredRole: NodeRole?
    ) async throws -> (identity: PeerIdentity, chain: [Certificate]) {
        let name = leaf.subjectValue(.RDNAttributeType.commonName) ?? "(no CN)"
        var verifier = Verifier(rootCertificates: CertificateStore([caCertificate])) {
            RFC5280Policy()
        }
        let chain: [Certificate]
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates)) {
        case .validCertificate(let validated):
            chain = Array(validated)
        case .couldNotValidate(let failures):
            let validationTime = Date()
            if validationTime > leaf.notValidAfter {
                throw PKIError.untrusted("the certificate of \(name) expired at \(leaf.notValidAfter); the node must renew or rejoin")
            }
            if validationTime < leaf.notValidBefore {
                throw PKIError.untrusted("the certificate of \(name) is not valid before \(leaf.notValidBefore); check the clocks")
            }
            let reason = failures.first.map { "\($0.policyFailureReason)" } ?? "it was not issued by this cluster's CA"
            throw PKIError.untrusted("the certificate of \(name) does not chain to the cluster CA: \(reason)")
        }
        guard chain.count >= 2 else {
            // The leaf is the CA itself: the CA key signs certificates, it does not speak TLS.
            throw PKIError.untrusted("\(name) presented the cluster CA certificate itself")
        }
        let usage: ExtendedKeyUsage.Usage = side == .client ? .clientAuth : .serverAuth
        let eku: ExtendedKeyUsage?
        do { eku = try leaf.extensions.extendedKeyUsage } catch {
            throw PKIError.untrusted("the certificate of \(name) has a malformed extended key usage")
        }
        guard let eku, eku.contains(usage) else {
            throw PKIError.untrusted("the certificate of \(name) is not for TLS \(side == .client ? "clients" : "servers")")
        }
        let identity = try PeerIdentity(certificate: leaf)
        if let ca = caCertificate.subjectValue(.RDNAttributeType.organizationName), ca != identity.clusterID {
            throw PKIError.untrusted("\(name) belongs to cluster \(identity.clusterID), not \(ca)")
        }
        if let requiredRole, identity.role != requiredRole {
            throw PKIError.untrusted("\(name) is a \(identity.role.rawValue), expected a \(requiredRole.rawValue)")
        }
        if await isRevoked(identity.nodeID) {
            throw PKIError.revoked(nodeID: identity.nodeID)
        }
        return (identity, chain)
    }

    /// Verifies the certificates a peer presented in a TLS handshake, leaf first.
    public func verify(
        presented: [NIOSSLCertificate],
        side: PeerSide,
        requiredRole: NodeRole? = nil
    ) async throws -> (identity: PeerIdentity, chain: NIOSSL.ValidatedCertificateChain) {
        let certificates: [Certificate]
        do {
            certificates = try presented.map { try Certificate(derEncoded: try $0.toDERBytes()) }
        } catch {
            let refusal = PKIError.untrusted("the peer's certificate does not decode: \(error)")
            onRefusal(refusal)
            throw refusal
        }
        guard let leaf = certificates.first else {
            let refusal = PKIError.untrusted("the peer presented no certificate")
            onRefusal(refusal)
            throw refusal
        }
        let (identity, chain) = try await verify(
            leaf: leaf, intermediates: Array(certificates.dropFirst()), side: side, requiredRole: requiredRole)
        return (identity, NIOSSL.ValidatedCertificateChain(try chain.map { try NIOSSLCertificate(bytes: try $0.derBytes(), format: .der) }))
    }

    /// The verified identity of the peer on a TLS `channel`, or nil if the peer presented no
    /// certificate (an agent that has not joined yet). Throws if the certificate is refused,
    /// for instance because the node was removed after the connection was opened.
    ///
    /// Call it after the handshake, from any context: on a server, with the child channel of the
    /// connection (Hummingbird: `ApplicationRequestContextSource.channel`, kept in the request context).
    public func peerIdentity(of channel: any Channel, side: PeerSide = .client) async throws -> PeerIdentity? {
        guard let certificate = try await channel.nioSSL_peerCertificate().get() else { return nil }
        let leaf: Certificate
        do {
            leaf = try Certificate(derEncoded: try certificate.toDERBytes())
        } catch {
            throw PKIError.untrusted("the peer's certificate does not decode: \(error)")
        }
        return try await verify(leaf: leaf, side: side).identity
    }

    /// A NIOSSL custom verification callback (with metadata, so the handler's
    /// `peerValidatedCertificateChain` is set) that accepts only what ``verify(presented:side:requiredRole:)`` accepts.
    public func verificationCallbackWithMetadata(
        side: PeerSide,
        requiredRole: NodeRole? = nil
    ) -> @Sendable ([NIOSSLCertificate], EventLoopPromise<NIOSSLVerificationResultWithMetadata>) -> Void {
        { presented, promise in
            promise.completeWithTask {
                do {
                    let (_, chain) = try await self.verify(presented: presented, side: side, requiredRole: requiredRole)
                    return .certificateVerified(VerificationMetadata(chain))
                } catch {
                    return .failed
                }
            }
        }
    }

    /// The same check as a plain NIOSSL custom verification callback, the form Hummingbird's
    /// `TLSChannelConfiguration(tlsConfiguration:customVerificationCallback:)` takes.
    public func verificationCallback(
        side: PeerSide,
        requiredRole: NodeRole? = nil
    ) -> @Sendable ([NIOSSLCertificate], EventLoopPromise<NIOSSLVerificationResult>) -> Void {
        { presented, promise in
            promise.completeWithTask {
                do {
                    _ = try await self.verify(presented: presented, side: side, requiredRole: requiredRole)
                    return .certificateVerified
                } catch {
                    return .failed
                }
            }
        }
    }
}

import Foundation
import NIOCore
import NIOSSL
import PierAccess
import Synchronization
import X509

/// The roots a server or client trusts and the identities it refuses, shared by every connection
/// and changed in place: a CA rotation adds and later drops a root, a revocation adds an entry,
/// and the next handshake sees it without a restart.
public final class TrustAnchors: Sendable {
    private struct State {
        var roots: [Certificate]
        var revocations: RevocationList
    }
    private let state: Mutex<State>

    public init(roots: [Certificate], revocations: RevocationList = RevocationList()) {
        state = Mutex(State(roots: roots, revocations: revocations))
    }

    /// The trusted cluster CAs: one, or the old and the new during a rotation.
    public var roots: [Certificate] { state.withLock { $0.roots } }
    public var revocations: RevocationList { state.withLock { $0.revocations } }

    public func setRoots(_ roots: [Certificate]) {
        precondition(!roots.isEmpty, "a trust anchor set needs a root")
        state.withLock { $0.roots = roots }
    }

    /// Replaces the revocation list unless `list` is older than the current one (or `force`).
    public func setRevocations(_ list: RevocationList, force: Bool = false) {
        state.withLock { if force || list.version >= $0.revocations.version { $0.revocations = list } }
    }
}

/// Decides whether a peer's certificate belongs to the cluster and may be on this side of this
/// connection: it chains to a trusted cluster CA (RFC 5280 path validation), has the extended key
/// usage for its side, names a Pier identity (CN, OU role, O cluster id) of one of the allowed
/// roles, is on no revocation list, and — for a server that keeps the cluster's membership — its
/// node is still a member.
///
/// Server names are checked by the clients that dial (``ClientTLS``): a node certificate names
/// its role (`pier-manager`), and clients reach the manager by that name whatever its address.
public struct ClusterTrust: Sendable {
    /// Which side of a TLS connection the verified peer is on.
    public enum PeerSide: Sendable {
        /// The peer is a client (requires the clientAuth extended key usage).
        case client
        /// The peer is a server (requires the serverAuth extended key usage).
        case server
    }

    /// The roots and the revocation list, shared and changed in place.
    public let anchors: TrustAnchors
    /// A further check of an identity that chains and is not revoked, by a server that knows the
    /// cluster's members (the manager): a reason to refuse it, or nil. Nodes that were removed, or
    /// are not members, are refused here.
    public var membership: @Sendable (PeerIdentity) async -> String?
    /// Called with the reason whenever a certificate is refused, for logging.
    public var onRefusal: @Sendable (PKIError) -> Void
    /// The time certificates are checked at (tests move it).
    public var now: @Sendable () -> Date

    public init(
        anchors: TrustAnchors,
        membership: @escaping @Sendable (PeerIdentity) async -> String? = { _ in nil },
        onRefusal: @escaping @Sendable (PKIError) -> Void = { _ in },
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.anchors = anchors
        self.membership = membership
        self.onRefusal = onRefusal
        self.now = now
    }

    /// Trust in one CA, with nothing revoked.
    public init(caCertificate: Certificate, onRefusal: @escaping @Sendable (PKIError) -> Void = { _ in }) {
        self.init(anchors: TrustAnchors(roots: [caCertificate]), onRefusal: onRefusal)
    }

    /// The first trusted root.
    public var caCertificate: Certificate { anchors.roots[0] }

    /// Verifies `leaf` (with any `intermediates` the peer sent) and returns the validated chain,
    /// leaf first and the CA last, with the peer's identity.
    public func verify(
        leaf: Certificate,
        intermediates: [Certificate] = [],
        side: PeerSide,
        allowedRoles: Set<Role>? = nil
    ) async throws -> (identity: PeerIdentity, chain: [Certificate]) {
        do {
            return try await verifyUnreported(leaf: leaf, intermediates: intermediates, side: side, allowedRoles: allowedRoles)
        } catch let error as PKIError {
            onRefusal(error)
            throw error
        }
    }

    private func verifyUnreported(
        leaf: Certificate,
        intermediates: [Certificate],
        side: PeerSide,
        allowedRoles: Set<Role>?
    ) async throws -> (identity: PeerIdentity, chain: [Certificate]) {
        let name = leaf.subjectValue(.RDNAttributeType.commonName) ?? "(no CN)"
        let roots = anchors.roots
        let validationTime = now()
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
            RFC5280Policy(validationTime: validationTime)
        }
        let chain: [Certificate]
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates)) {
        case .validCertificate(let validated):
            chain = Array(validated)
        case .couldNotValidate(let failures):
            if validationTime > leaf.notValidAfter {
                throw PKIError.untrusted("the certificate of \(name) expired at \(leaf.notValidAfter); a node renews or rejoins, a client gets a new one (pier cert create)")
            }
            if validationTime < leaf.notValidBefore {
                throw PKIError.untrusted("the certificate of \(name) is not valid before \(leaf.notValidBefore); check the clocks")
            }
            let reason = failures.first.map { "\($0.policyFailureReason)" } ?? "it was not issued by this cluster's CA"
            throw PKIError.untrusted("the certificate of \(name) does not chain to the cluster CA: \(reason)")
        }
        guard chain.count >= 2 else {
            // The leaf is a CA itself: the CA key signs certificates, it does not speak TLS.
            throw PKIError.untrusted("\(name) presented a cluster CA certificate itself")
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
        if let cluster = roots[0].subjectValue(.RDNAttributeType.organizationName), cluster != identity.clusterID {
            throw PKIError.untrusted("\(name) belongs to cluster \(identity.clusterID), not \(cluster)")
        }
        try await checkStanding(identity, allowedRoles: allowedRoles)
        return (identity, chain)
    }

    /// What may change after a certificate was issued: its role allowed here, its revocation,
    /// its node's membership. Checked at the handshake and again for each request.
    private func checkStanding(_ identity: PeerIdentity, allowedRoles: Set<Role>?) async throws {
        if let allowedRoles, !allowedRoles.contains(identity.role) {
            let allowed = allowedRoles.map(\.rawValue).sorted().joined(separator: " or ")
            throw PKIError.untrusted("\(identity.nodeID) is a \(identity.role), and only \(allowed) certificates are accepted here")
        }
        if let entry = anchors.revocations.entry(refusingSubject: identity.nodeID, serialNumber: identity.serialNumber) {
            throw PKIError.revoked(subject: identity.nodeID, reason: entry.reason)
        }
        if let reason = await membership(identity) {
            throw PKIError.revoked(subject: identity.nodeID, reason: reason)
        }
    }

    /// Verifies the certificates a peer presented in a TLS handshake, leaf first.
    public func verify(
        presented: [NIOSSLCertificate],
        side: PeerSide,
        allowedRoles: Set<Role>? = nil
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
            leaf: leaf, intermediates: Array(certificates.dropFirst()), side: side, allowedRoles: allowedRoles)
        return (identity, NIOSSL.ValidatedCertificateChain(try chain.map { try NIOSSLCertificate(bytes: try $0.derBytes(), format: .der) }))
    }

    /// The identity of the peer on a TLS `channel` whose certificate the handshake verified, or
    /// nil if it presented none (an agent that has not joined yet). Throws if it is refused now:
    /// expired since, revoked since, its node removed since, or of a role not allowed here.
    ///
    /// The chain is not validated again: every server of Pier verifies a presented certificate at
    /// the handshake (``ServerTLS``), and a connection opened before a CA rotation completed keeps
    /// going. Call it from any context: on a server, with the child channel of the connection
    /// (Hummingbird: `ApplicationRequestContextSource.channel`, kept in the request context).
    public func peerIdentity(of channel: any Channel, allowedRoles: Set<Role>? = nil) async throws -> PeerIdentity? {
        guard let certificate = try await channel.nioSSL_peerCertificate().get() else { return nil }
        do {
            let leaf: Certificate
            do {
                leaf = try Certificate(derEncoded: try certificate.toDERBytes())
            } catch {
                throw PKIError.untrusted("the peer's certificate does not decode: \(error)")
            }
            let identity = try PeerIdentity(certificate: leaf)
            if now() > leaf.notValidAfter {
                throw PKIError.untrusted("the certificate of \(identity.nodeID) expired at \(leaf.notValidAfter)")
            }
            try await checkStanding(identity, allowedRoles: allowedRoles)
            return identity
        } catch let error as PKIError {
            onRefusal(error)
            throw error
        }
    }

    /// A NIOSSL custom verification callback (with metadata, so the handler's
    /// `peerValidatedCertificateChain` is set) that accepts only what ``verify(presented:side:allowedRoles:)`` accepts.
    public func verificationCallbackWithMetadata(
        side: PeerSide,
        allowedRoles: Set<Role>? = nil
    ) -> @Sendable ([NIOSSLCertificate], EventLoopPromise<NIOSSLVerificationResultWithMetadata>) -> Void {
        { presented, promise in
            promise.completeWithTask {
                do {
                    let (_, chain) = try await self.verify(presented: presented, side: side, allowedRoles: allowedRoles)
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
        allowedRoles: Set<Role>? = nil
    ) -> @Sendable ([NIOSSLCertificate], EventLoopPromise<NIOSSLVerificationResult>) -> Void {
        { presented, promise in
            promise.completeWithTask {
                do {
                    _ = try await self.verify(presented: presented, side: side, allowedRoles: allowedRoles)
                    return .certificateVerified
                } catch {
                    return .failed
                }
            }
        }
    }
}

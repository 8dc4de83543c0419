import Crypto
import Foundation
import NIOSSL
import PierAccess
import X509

/// A private key, its certificate from the cluster CA (with any intermediate to present beside
/// it), and the CA certificates it trusts: a node's identity, or a client's (`pier cert create`).
///
/// Stored as `node.pem` (the certificate, then its intermediates), `node-key.pem` (mode 0600) and
/// `ca.pem` (the trusted roots: one, or two while the cluster rotates its CA) in a directory.
public struct NodeIdentity: Sendable {
    let key: P256Key
    public let certificate: Certificate
    /// Presented after the certificate: during a CA rotation, the new CA cross-signed by the old.
    public let intermediates: [Certificate]
    /// The cluster CAs this identity trusts; the first is the one that issued it, or that one's
    /// successor once a rotation began.
    public let roots: [Certificate]
    /// The node id or `client-NAME` (the certificate's subject CN).
    public let nodeID: String
    /// The role (the certificate's subject OU).
    public let role: Role
    /// The cluster id (the certificate's subject O).
    public let clusterID: String

    /// The first trusted root (what a single-CA cluster has).
    public var caCertificate: Certificate { roots[0] }

    /// Checks that the key matches the certificate, that the certificate names a Pier identity,
    /// and that it was issued by one of `roots` or by one of `intermediates` that one of them signed.
    public init(privateKey: P256.Signing.PrivateKey, certificate: Certificate, intermediates: [Certificate] = [], roots: [Certificate]) throws {
        try self.init(key: P256Key(privateKey), certificate: certificate, intermediates: intermediates, roots: roots)
    }

    init(key: P256Key, certificate: Certificate, intermediates: [Certificate], roots: [Certificate]) throws {
        guard certificate.publicKey == key.publicKey else {
            throw PKIError.malformed(what: "identity", reason: "the private key does not match the certificate")
        }
        guard !roots.isEmpty else {
            throw PKIError.malformed(what: "identity", reason: "no trusted CA certificate")
        }
        let direct = roots.contains { Self.signed(certificate, by: $0) }
        let viaIntermediate = intermediates.contains { i in Self.signed(certificate, by: i) && roots.contains { Self.signed(i, by: $0) } }
        // A certificate of the new CA of a rotation, whose root the holder already trusts beside the old one.
        guard direct || viaIntermediate else {
            throw PKIError.untrusted("the certificate of \(certificate.subjectValue(.RDNAttributeType.commonName) ?? "?") was not issued by the trusted cluster CA")
        }
        let peer = try PeerIdentity(certificate: certificate)
        self.key = key
        self.certificate = certificate
        self.intermediates = intermediates
        self.roots = roots
        self.nodeID = peer.nodeID
        self.role = peer.role
        self.clusterID = peer.clusterID
    }

    static func signed(_ child: Certificate, by parent: Certificate) -> Bool {
        child.issuer == parent.subject && parent.publicKey.isValidSignature(child.signature, for: child)
    }

    /// The same key and certificate trusting other roots (a CA rotation's bundle). Intermediates
    /// that none of `roots` signed (the cross-signed CA once the old root is gone) are dropped.
    public func trusting(_ roots: [Certificate]) throws -> NodeIdentity {
        let kept = intermediates.filter { i in roots.contains { Self.signed(i, by: $0) } }
        return try NodeIdentity(key: key, certificate: certificate, intermediates: kept, roots: roots)
    }

    /// The private key as PKCS#8 PEM (what `node-key.pem` holds).
    public var privateKeyPEM: String { key.pem }

    /// When the certificate starts being valid.
    public var notValidBefore: Date { certificate.notValidBefore }
    /// When the certificate expires.
    public var notValidAfter: Date { certificate.notValidAfter }

    /// The validity the CA granted. It backdates `notValidBefore` by
    /// `ClusterCA.clockSkewAllowance` for clocks behind its own; that margin is not part of it.
    public var validity: TimeInterval {
        let span = notValidAfter.timeIntervalSince(notValidBefore)
        return span > ClusterCA.clockSkewAllowance ? span - ClusterCA.clockSkewAllowance : span
    }

    /// When this certificate is renewed: at a point between 50 % and 80 % of its validity, as
    /// SwarmKit does, so that a fleet that joined together does not renew together. The point
    /// is drawn from the serial number, so every check of one certificate agrees.
    public var renewalTime: Date {
        var hasher = StableHasher()
        for byte in certificate.serialNumber.bytes { hasher.mix(byte) }
        let fraction = 0.5 + 0.3 * Double(hasher.value % 10_001) / 10_000
        return notValidBefore + ClusterCA.clockSkewAllowance + validity * fraction
    }

    /// Whether the certificate should be renewed now: its renewal time has come (or it has expired).
    public func needsRenewal(now: Date = Date()) -> Bool {
        now >= renewalTime
    }

    /// Loads `node.pem`, `node-key.pem` and `ca.pem` from `directory`.
    public static func load(from directory: String) throws -> NodeIdentity {
        let certPath = PEMFile.path(directory, "node.pem")
        let keyPath = PEMFile.path(directory, "node-key.pem")
        let caPath = PEMFile.path(directory, "ca.pem")
        let keyText = try PEMFile.read(keyPath)
        let key: P256Key
        do { key = try P256Key(pem: keyText) } catch {
            throw PKIError.unreadableFile(path: keyPath, reason: "not a PEM P-256 private key (\(error))")
        }
        let chain = try PEMFile.certificates(at: certPath)
        let roots = try PEMFile.certificates(at: caPath)
        return try NodeIdentity(key: key, certificate: chain[0], intermediates: Array(chain.dropFirst()), roots: roots)
    }

    /// Writes `node-key.pem` (0600), `ca.pem` and `node.pem` (0644) into `directory`, each atomically.
    /// The certificate is written last, so a crash mid-save leaves a key newer than its certificate,
    /// which `load` reports, rather than a certificate without its key.
    public func save(to directory: String) throws {
        try PEMFile.write(key.pem, to: PEMFile.path(directory, "node-key.pem"), mode: PEMFile.privateMode)
        try saveRoots(to: directory)
        try PEMFile.write(
            try ([certificate] + intermediates).map { try $0.pemString() }.joined(separator: "\n") + "\n",
            to: PEMFile.path(directory, "node.pem"), mode: PEMFile.publicMode)
    }

    /// Writes only `ca.pem`: the trusted roots changed, the certificate did not.
    public func saveRoots(to directory: String) throws {
        try PEMFile.write(
            try roots.map { try $0.pemString() }.joined(separator: "\n") + "\n",
            to: PEMFile.path(directory, "ca.pem"), mode: PEMFile.publicMode)
    }

    /// The chain to present in TLS: this certificate, its intermediates, then the root that issued
    /// it (or the first root), so a peer pinning the CA by fingerprint finds it.
    func tlsCertificateChain() throws -> [NIOSSLCertificateSource] {
        try ([certificate] + intermediates + [roots[0]]).map {
            .certificate(try NIOSSLCertificate(bytes: try $0.derBytes(), format: .der))
        }
    }

    func tlsPrivateKey() throws -> NIOSSLPrivateKeySource {
        .privateKey(try NIOSSLPrivateKey(bytes: key.der, format: .der))
    }
}

/// FNV-1a, 64 bits: a hash that is the same in every process (Swift's `Hasher` is seeded per
/// process), for choices that must agree across restarts.
struct StableHasher {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func mix(_ byte: UInt8) {
        value ^= UInt64(byte)
        value = value &* 0x0000_0100_0000_01b3
    }
}

import Crypto
import Foundation
import NIOSSL
import X509

/// A node's private key, its certificate from the cluster CA, and the CA certificate it trusts.
///
/// Stored as `node.pem`, `node-key.pem` (mode 0600) and `ca.pem` in the node's directory.
public struct NodeIdentity: Sendable {
    let key: P256Key
    public let certificate: Certificate
    /// The cluster CA that issued `certificate`; the only root this node trusts.
    public let caCertificate: Certificate
    /// The node id (the certificate's subject CN).
    public let nodeID: String
    /// The role (the certificate's subject OU).
    public let role: NodeRole
    /// The cluster id (the certificate's subject O).
    public let clusterID: String

    /// Checks that the key matches the certificate and that the certificate names a node.
    public init(privateKey: P256.Signing.PrivateKey, certificate: Certificate, caCertificate: Certificate) throws {
        try self.init(key: P256Key(privateKey), certificate: certificate, caCertificate: caCertificate)
    }

    init(key: P256Key, certificate: Certificate, caCertificate: Certificate) throws {
        guard certificate.publicKey == key.publicKey else {
            throw PKIError.malformed(what: "node identity", reason: "the private key does not match the certificate")
        }
        guard certificate.issuer == caCertificate.subject,
            caCertificate.publicKey.isValidSignature(certificate.signature, for: certificate)
        else {
            throw PKIError.untrusted("the node certificate was not issued by the given cluster CA")
        }
        let peer = try PeerIdentity(certificate: certificate)
        self.key = key
        self.certificate = certificate
        self.caCertificate = caCertificate
        self.nodeID = peer.nodeID
        self.role = peer.role
        self.clusterID = peer.clusterID
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

    /// Whether the certificate should be renewed: less than a third of its validity is left
    /// (or it has expired).
    public func needsRenewal(now: Date = Date()) -> Bool {
        notValidAfter.timeIntervalSince(now) < validity / 3
    }

    /// Loads `node.pem`, `node-key.pem` and `ca.pem` from `directory`.
    public static func load(from directory: String) throws -> NodeIdentity {
        let certPath = PEMFile.path(directory, "node.pem")
        let keyPath = PEMFile.path(directory, "node-key.pem")
        let caPath = PEMFile.path(directory, "ca.pem")
        func certificate(_ path: String) throws -> Certificate {
            let text = try PEMFile.read(path)
            do { return try Certificate(pemEncoded: text) } catch {
                throw PKIError.unreadableFile(path: path, reason: "not a PEM certificate (\(error))")
            }
        }
        let keyText = try PEMFile.read(keyPath)
        let key: P256Key
        do { key = try P256Key(pem: keyText) } catch {
            throw PKIError.unreadableFile(path: keyPath, reason: "not a PEM P-256 private key (\(error))")
        }
        return try NodeIdentity(key: key, certificate: try certificate(certPath), caCertificate: try certificate(caPath))
    }

    /// Writes `node-key.pem` (0600), `ca.pem` and `node.pem` (0644) into `directory`, each atomically.
    /// The certificate is written last, so a crash mid-save leaves a key newer than its certificate,
    /// which `load` reports, rather than a certificate without its key.
    public func save(to directory: String) throws {
        try PEMFile.write(key.pem, to: PEMFile.path(directory, "node-key.pem"), mode: PEMFile.privateMode)
        try PEMFile.write(try caCertificate.pemString(), to: PEMFile.path(directory, "ca.pem"), mode: PEMFile.publicMode)
        try PEMFile.write(try certificate.pemString(), to: PEMFile.path(directory, "node.pem"), mode: PEMFile.publicMode)
    }

    /// The chain to present in TLS: this node's certificate, then the CA.
    func tlsCertificateChain() throws -> [NIOSSLCertificateSource] {
        [
            .certificate(try NIOSSLCertificate(bytes: try certificate.derBytes(), format: .der)),
            .certificate(try NIOSSLCertificate(bytes: try caCertificate.derBytes(), format: .der)),
        ]
    }

    func tlsPrivateKey() throws -> NIOSSLPrivateKeySource {
        .privateKey(try NIOSSLPrivateKey(bytes: key.der, format: .der))
    }
}

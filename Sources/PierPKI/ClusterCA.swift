import Crypto
import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The cluster's certificate authority: a self-signed P-256 root that signs every node certificate.
///
/// It lives on the manager only, as `ca.pem` and `ca-key.pem` (mode 0600) in its directory.
public struct ClusterCA: Sendable {
    /// The subject common name of every cluster CA.
    public static let commonName = "pier-cluster-ca"
    /// How long a new CA is valid: ten years.
    public static let defaultValidity: TimeInterval = 10 * 365 * 24 * 3600
    /// How long a node certificate is valid unless the caller says otherwise: 90 days.
    public static let defaultNodeValidity: TimeInterval = 90 * 24 * 3600
    /// Certificates start this long before their issue time, so a device whose clock lags
    /// (no RTC, NTP not yet synced) still accepts them.
    public static let clockSkewAllowance: TimeInterval = 300

    /// The self-signed CA certificate; its subject O is the cluster id.
    public let certificate: Certificate
    /// The cluster id, the subject O of the CA and of every certificate it issues.
    public let clusterID: String
    /// SHA-256 of the DER CA certificate, lowercase hex; join tokens carry it.
    public let fingerprint: String
    let key: P256Key

    /// Wraps an existing CA certificate and its key, checking that they belong together.
    public init(certificate: Certificate, privateKey: P256.Signing.PrivateKey) throws {
        let key = P256Key(privateKey)
        guard certificate.publicKey == key.publicKey else {
            throw PKIError.malformed(what: "cluster CA", reason: "the private key does not match the certificate")
        }
        guard let clusterID = certificate.subjectValue(.RDNAttributeType.organizationName) else {
            throw PKIError.notANodeCertificate("the CA certificate has no subject O (cluster id)")
        }
        self.certificate = certificate
        self.key = key
        self.clusterID = clusterID
        self.fingerprint = try certificate.sha256Fingerprint()
    }

    /// Creates a new CA with a fresh P-256 key, for a new cluster.
    public static func create(
        clusterID: String = RandomID.make(),
        validity: TimeInterval = ClusterCA.defaultValidity,
        now: Date = Date()
    ) throws -> ClusterCA {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let name = try DistinguishedName {
            OrganizationName(clusterID)
            CommonName(commonName)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now - clockSkewAllowance,
            notValidAfter: now + validity,
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        return try ClusterCA(certificate: certificate, privateKey: key)
    }

    /// Loads `ca.pem` and `ca-key.pem` from `directory`.
    public static func load(from directory: String) throws -> ClusterCA {
        let certPath = PEMFile.path(directory, "ca.pem")
        let keyPath = PEMFile.path(directory, "ca-key.pem")
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: try PEMFile.read(certPath))
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError.unreadableFile(path: certPath, reason: "not a PEM certificate (\(error))")
        }
        let key: P256.Signing.PrivateKey
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: try PEMFile.read(keyPath))
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError.unreadableFile(path: keyPath, reason: "not a PEM P-256 private key (\(error))")
        }
        return try ClusterCA(certificate: certificate, privateKey: key)
    }

    /// Loads the CA from `directory`, or creates one and saves it there if `ca.pem` does not exist yet
    /// (the manager's first start).
    public static func loadOrCreate(in directory: String) throws -> ClusterCA {
        if access(PEMFile.path(directory, "ca.pem"), F_OK) == 0 {
            return try load(from: directory)
        }
        let ca = try create()
        try ca.save(to: directory)
        return ca
    }

    /// Writes `ca.pem` (0644) and `ca-key.pem` (0600) into `directory`, each atomically.
    public func save(to directory: String) throws {
        try PEMFile.write(key.pem, to: PEMFile.path(directory, "ca-key.pem"), mode: PEMFile.privateMode)
        try PEMFile.write(try certificate.pemString(), to: PEMFile.path(directory, "ca.pem"), mode: PEMFile.publicMode)
    }

    /// Issues a node certificate for the key in `csr`, after checking the request's signature.
    ///
    /// The subject comes from the arguments, never from the request: CN = `nodeID`,
    /// OU = the role (`pier-worker`/`pier-manager`), O = the cluster id. The certificate is
    /// good for both TLS server and client authentication, and names `dnsNames` and
    /// `ipAddresses` (textual IPv4 or IPv6) in its subject alternative names.
    public func issue(
        csr: CertificateSigningRequest,
        nodeID: String,
        role: NodeRole,
        dnsNames: [String] = [],
        ipAddresses: [String] = [],
        validity: TimeInterval = ClusterCA.defaultNodeValidity,
        now: Date = Date()
    ) throws -> Certificate {
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw PKIError.csrSignatureInvalid
        }
        guard P256.Signing.PublicKey(csr.publicKey) != nil else {
            throw PKIError.unsupportedKey("\(csr.publicKey)")
        }
        guard RandomID.isValidName(nodeID) else {
            throw PKIError.invalidName("node id \"\(nodeID)\" must be 1–64 characters of a-z, A-Z, 0-9, '.', '_' or '-'")
        }
        var names: [GeneralName] = []
        for dns in dnsNames {
            guard RandomID.isValidName(dns) else {
                throw PKIError.invalidName("DNS name \"\(dns)\" must be 1–64 characters of a-z, A-Z, 0-9, '.', '_' or '-'")
            }
            names.append(.dnsName(dns))
        }
        for ip in ipAddresses {
            guard let bytes = IPAddress.bytes(ip) else {
                throw PKIError.invalidName("\"\(ip)\" is not an IPv4 or IPv6 address")
            }
            names.append(.ipAddress(ASN1OctetString(contentBytes: bytes[...])))
        }
        let subject = try DistinguishedName {
            OrganizationName(clusterID)
            OrganizationalUnitName(role.organizationalUnit)
            CommonName(nodeID)
        }
        let issuerKeyID = try certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        return try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: csr.publicKey,
            notValidBefore: now - Self.clockSkewAllowance,
            notValidAfter: now + validity,
            issuer: certificate.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectKeyIdentifier(hash: csr.publicKey)
                AuthorityKeyIdentifier(keyIdentifier: issuerKeyID)
                if !names.isEmpty {
                    SubjectAlternativeNames(names)
                }
            },
            issuerPrivateKey: key.signer
        )
    }

    /// Issues a certificate for a node's own key without a request: how the manager certifies itself.
    public func issueIdentity(
        nodeID: String,
        role: NodeRole,
        dnsNames: [String] = [],
        ipAddresses: [String] = [],
        validity: TimeInterval = ClusterCA.defaultNodeValidity,
        now: Date = Date()
    ) throws -> NodeIdentity {
        let request = try CertificateRequest.generate()
        let certificate = try issue(
            csr: request.csr, nodeID: nodeID, role: role, dnsNames: dnsNames, ipAddresses: ipAddresses,
            validity: validity, now: now)
        return try request.identity(certificate: certificate, caCertificate: self.certificate)
    }
}

/// Textual IP addresses to their network-order bytes.
enum IPAddress {
    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}

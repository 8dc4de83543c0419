import Crypto
import Foundation
import PierAccess
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The cluster's certificate authority: a self-signed P-256 root that signs every node and client
/// certificate.
///
/// It lives on the manager only, as `ca.pem` and `ca-key.pem` (mode 0600) in its directory.
/// Its path length allows one intermediate: the cross-signed certificate of the next CA while
/// the cluster rotates to it (`pier ca rotate`).
public struct ClusterCA: Sendable {
    /// The subject common name of the first CA of a cluster; a rotation's new CA adds a suffix,
    /// so that two generations never share a subject.
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
    /// Certificates presented between what this CA issues and the roots peers trust: during a
    /// rotation, this (new) CA cross-signed by the old one, so that peers still trusting only the
    /// old root accept what the new one issued.
    public var intermediates: [Certificate] = []
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
        commonName: String = ClusterCA.commonName,
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
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 1))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        return try ClusterCA(certificate: certificate, privateKey: key)
    }

    /// The next generation of this CA, for a rotation: a new key and a subject of its own in the
    /// same cluster, and its certificate cross-signed by this CA as its intermediate.
    public func successor(validity: TimeInterval = ClusterCA.defaultValidity, now: Date = Date()) throws -> ClusterCA {
        var next = try ClusterCA.create(
            clusterID: clusterID, commonName: "\(Self.commonName)-\(RandomID.make(length: 8))", validity: validity, now: now)
        next.intermediates = [try crossSign(next, now: now)]
        return next
    }

    /// `next`'s subject and key, issued by this CA: a path from what `next` issues to this root.
    /// It may sign only end-entity certificates and expires with whichever CA expires first.
    public func crossSign(_ next: ClusterCA, now: Date = Date()) throws -> Certificate {
        try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: next.certificate.publicKey,
            notValidBefore: now - Self.clockSkewAllowance,
            notValidAfter: min(certificate.notValidAfter, next.certificate.notValidAfter),
            issuer: certificate.subject,
            subject: next.certificate.subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: next.certificate.publicKey)
                AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: key.signer
        )
    }

    /// Loads `NAME.pem` and `NAME-key.pem` (by default `ca.pem` and `ca-key.pem`) from `directory`.
    public static func load(from directory: String, name: String = "ca") throws -> ClusterCA {
        let certPath = PEMFile.path(directory, "\(name).pem")
        let keyPath = PEMFile.path(directory, "\(name)-key.pem")
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

    /// Writes `NAME-key.pem` (0600), then `NAME.pem` (0644), into `directory`, each atomically
    /// (by default `ca-key.pem` and `ca.pem`).
    public func save(to directory: String, name: String = "ca") throws {
        try PEMFile.write(key.pem, to: PEMFile.path(directory, "\(name)-key.pem"), mode: PEMFile.privateMode)
        try PEMFile.write(try certificate.pemString(), to: PEMFile.path(directory, "\(name).pem"), mode: PEMFile.publicMode)
    }

    /// Reads the certificates of a PEM file (a cross-signed intermediate, a bundle of roots).
    public static func certificates(at path: String) throws -> [Certificate] {
        try PEMFile.certificates(at: path)
    }

    /// Writes certificates to a PEM file atomically (0644).
    public static func write(_ certificates: [Certificate], to path: String) throws {
        try PEMFile.write(
            try certificates.map { try $0.pemString() }.joined(separator: "\n") + "\n", to: path, mode: PEMFile.publicMode)
    }

    /// Issues a certificate for the key in `csr`, after checking the request's signature.
    ///
    /// The subject comes from the arguments, never from the request: CN = `subject` (a node id,
    /// or `client-NAME`), OU = the role (`pier-worker`, `pier-manager`, `pier-admin`, …), O = the
    /// cluster id. A node's certificate is good for TLS servers and clients and names its role's
    /// server name (`pier-manager`, `pier-worker`), `pier-node`, and `dnsNames` and `ipAddresses`
    /// (textual IPv4 or IPv6) in its subject alternative names; a client's is good for TLS
    /// clients only, so it can never pose as a server of the cluster.
    public func issue(
        csr: CertificateSigningRequest,
        subject commonName: String,
        role: Role,
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
        guard RandomID.isValidName(commonName) else {
            throw PKIError.invalidName("subject \"\(commonName)\" must be 1–64 characters of a-z, A-Z, 0-9, '.', '_' or '-'")
        }
        guard validity.isFinite, validity >= 1, validity <= Self.maxIssuedValidity else {
            throw PKIError.invalidName("validity \(validity) s is outside 1 s to \(Int(Self.maxIssuedValidity / 86400)) days")
        }
        var names: [GeneralName] = []
        if let serverName = role.serverName {
            names += [.dnsName(serverName), .dnsName(Role.anyNodeServerName)]
            for dns in dnsNames where dns != serverName && dns != Role.anyNodeServerName {
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
        } else if !dnsNames.isEmpty || !ipAddresses.isEmpty {
            throw PKIError.invalidName("a \(role) certificate is a client's and names no hosts")
        }
        let subject = try DistinguishedName {
            OrganizationName(clusterID)
            OrganizationalUnitName(role.organizationalUnit)
            CommonName(commonName)
        }
        let issuerKeyID = try certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        // Never valid beyond the CA itself.
        let notAfter = min(now + validity, certificate.notValidAfter)
        return try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: csr.publicKey,
            notValidBefore: now - Self.clockSkewAllowance,
            notValidAfter: notAfter,
            issuer: certificate.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                if role.isNode {
                    try ExtendedKeyUsage([.serverAuth, .clientAuth])
                } else {
                    try ExtendedKeyUsage([.clientAuth])
                }
                SubjectKeyIdentifier(hash: csr.publicKey)
                AuthorityKeyIdentifier(keyIdentifier: issuerKeyID)
                if !names.isEmpty {
                    SubjectAlternativeNames(names)
                }
            },
            issuerPrivateKey: key.signer
        )
    }

    /// The longest validity the CA grants a node or client certificate: one year.
    public static let maxIssuedValidity: TimeInterval = 366 * 24 * 3600

    /// Issues a certificate for a node's own key without a request: how the manager certifies itself.
    public func issueIdentity(
        nodeID: String,
        role: Role,
        dnsNames: [String] = [],
        ipAddresses: [String] = [],
        validity: TimeInterval = ClusterCA.defaultNodeValidity,
        now: Date = Date(),
        roots: [Certificate]? = nil
    ) throws -> NodeIdentity {
        let request = try CertificateRequest.generate()
        let certificate = try issue(
            csr: request.csr, subject: nodeID, role: role, dnsNames: dnsNames, ipAddresses: ipAddresses,
            validity: validity, now: now)
        return try request.identity(certificate: certificate, intermediates: intermediates, roots: roots ?? [self.certificate])
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

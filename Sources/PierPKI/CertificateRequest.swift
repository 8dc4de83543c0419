import Crypto
import X509

/// A fresh node key and the certificate signing request a node sends to the manager to join
/// or to renew. The CA ignores the request's subject; it only uses the key.
public struct CertificateRequest: Sendable {
    let key: P256Key
    /// The signed request carrying the public key.
    public let csr: CertificateSigningRequest

    /// Generates a new P-256 key and a request signed with it.
    public static func generate(commonName: String = "pier-node") throws -> CertificateRequest {
        let key = P256.Signing.PrivateKey()
        let csr = try CertificateSigningRequest(
            version: .v1,
            subject: try DistinguishedName { CommonName(commonName) },
            privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes(),
            signatureAlgorithm: .ecdsaWithSHA256
        )
        return CertificateRequest(key: P256Key(key), csr: csr)
    }

    /// The request as PEM (`CERTIFICATE REQUEST`), to send to the manager.
    public func pemString() throws -> String {
        try csr.serializeAsPEM().pemString
    }

    /// Parses a PEM request received from a node; its signature is checked when the CA issues.
    public static func parseCSR(pem: String) throws -> CertificateSigningRequest {
        do {
            return try CertificateSigningRequest(pemEncoded: pem)
        } catch {
            throw PKIError.malformed(what: "certificate signing request", reason: "\(error)")
        }
    }

    /// Combines this request's key with what the manager answered: the certificate and any
    /// intermediate (PEM, in that order) and the roots to trust (PEM; `fallbackRoots` when it names none).
    public func identity(certificatePEM: String, rootsPEM: String, fallbackRoots: [Certificate] = []) throws -> NodeIdentity {
        let chain = try Certificate.all(pem: certificatePEM, what: "the issued certificate")
        let roots = (try? Certificate.all(pem: rootsPEM, what: "the cluster CA")) ?? fallbackRoots
        return try identity(certificate: chain[0], intermediates: Array(chain.dropFirst()), roots: roots)
    }

    /// Combines this request's key with the certificate the manager issued for it, the
    /// intermediates to present beside it and the roots to trust.
    public func identity(certificate: Certificate, intermediates: [Certificate] = [], roots: [Certificate]) throws -> NodeIdentity {
        try NodeIdentity(key: key, certificate: certificate, intermediates: intermediates, roots: roots)
    }
}

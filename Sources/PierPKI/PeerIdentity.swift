import Foundation
import X509

/// Who is on the other end of a mutual-TLS connection, read from its verified node certificate.
public struct PeerIdentity: Codable, Sendable, Hashable {
    /// The node id (subject CN).
    public var nodeID: String
    /// The node's role (subject OU).
    public var role: NodeRole
    /// The cluster id (subject O).
    public var clusterID: String
    /// The certificate's serial number, lowercase hex.
    public var serialNumber: String
    /// When the certificate expires.
    public var notValidAfter: Date

    /// Reads the identity fields of a node certificate. This does not verify anything;
    /// use ``ClusterTrust`` for that.
    public init(certificate: Certificate) throws {
        guard let cn = certificate.subjectValue(.RDNAttributeType.commonName) else {
            throw PKIError.notANodeCertificate("no subject CN (node id)")
        }
        guard let ou = certificate.subjectValue(.RDNAttributeType.organizationalUnitName) else {
            throw PKIError.notANodeCertificate("node \(cn) has no subject OU (role)")
        }
        guard let role = NodeRole(organizationalUnit: ou) else {
            throw PKIError.notANodeCertificate("node \(cn) has OU \"\(ou)\", not pier-worker or pier-manager")
        }
        guard let o = certificate.subjectValue(.RDNAttributeType.organizationName) else {
            throw PKIError.notANodeCertificate("node \(cn) has no subject O (cluster id)")
        }
        self.nodeID = cn
        self.role = role
        self.clusterID = o
        self.serialNumber = Hex.encode(certificate.serialNumber.bytes)
        self.notValidAfter = certificate.notValidAfter
    }
}

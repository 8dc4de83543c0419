import Foundation
import PierAccess
import X509

/// Who is on the other end of a mutual-TLS connection, read from its verified certificate: a
/// node (CN = node id, OU `pier-manager`/`pier-worker`) or a client of a person or tool (CN =
/// `client-NAME`, OU `pier-admin`/`pier-operator`/`pier-readonly`), O = the cluster id.
public struct PeerIdentity: Codable, Sendable, Hashable {
    /// The subject CN: a node id, or `client-NAME` for a client certificate.
    public var nodeID: String
    /// The role (subject OU).
    public var role: Role
    /// The cluster id (subject O).
    public var clusterID: String
    /// The certificate's serial number, lowercase hex.
    public var serialNumber: String
    /// When the certificate expires.
    public var notValidAfter: Date

    /// The caller the authorization policy decides about.
    public var caller: Caller { Caller(role: role, name: nodeID) }

    /// Reads the identity fields of a certificate. This does not verify anything; use
    /// ``ClusterTrust`` for that.
    public init(certificate: Certificate) throws {
        guard let cn = certificate.subjectValue(.RDNAttributeType.commonName) else {
            throw PKIError.notANodeCertificate("no subject CN (node id or client name)")
        }
        guard let ou = certificate.subjectValue(.RDNAttributeType.organizationalUnitName) else {
            throw PKIError.notANodeCertificate("\(cn) has no subject OU (role)")
        }
        guard let role = Role(organizationalUnit: ou) else {
            let known = Role.allCases.map(\.organizationalUnit).joined(separator: ", ")
            throw PKIError.notANodeCertificate("\(cn) has OU \"\(ou)\", not a Pier role (\(known))")
        }
        guard let o = certificate.subjectValue(.RDNAttributeType.organizationName) else {
            throw PKIError.notANodeCertificate("\(cn) has no subject O (cluster id)")
        }
        self.nodeID = cn
        self.role = role
        self.clusterID = o
        self.serialNumber = Hex.encode(certificate.serialNumber.bytes)
        self.notValidAfter = certificate.notValidAfter
    }
}

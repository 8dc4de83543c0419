/// What went wrong in the cluster PKI: loading or saving key material, issuing a certificate,
/// parsing a join token, or verifying a peer.
public enum PKIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A PEM file could not be read or parsed.
    case unreadableFile(path: String, reason: String)
    /// A file could not be written.
    case unwritableFile(path: String, reason: String)
    /// A certificate or key did not decode.
    case malformed(what: String, reason: String)
    /// The certificate signing request's signature does not verify with its own public key.
    case csrSignatureInvalid
    /// The certificate signing request carries a key type Pier does not issue for.
    case unsupportedKey(String)
    /// A node id or subject alternative name cannot go into a certificate.
    case invalidName(String)
    /// The join token is not of the form `PIERTKN-1-<digest>-<secret>`.
    case badToken(String)
    /// A certificate is missing the subject fields Pier puts there.
    case notANodeCertificate(String)
    /// The peer's certificate chain does not lead to the trusted cluster CA, is expired, or has the wrong role.
    case untrusted(String)
    /// The certificate was revoked, or belongs to a node that was removed from the cluster.
    case revoked(subject: String, reason: String)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason); check that the file exists and is PEM"
        case .unwritableFile(let path, let reason):
            return "cannot write \(path): \(reason); check the directory exists and is writable"
        case .malformed(let what, let reason):
            return "\(what) is malformed: \(reason)"
        case .csrSignatureInvalid:
            return "the certificate signing request's signature does not verify; refusing to issue a certificate"
        case .unsupportedKey(let kind):
            return "the certificate signing request has a \(kind) key; Pier issues certificates for P-256 ECDSA keys only"
        case .invalidName(let detail):
            return "invalid name for a node certificate: \(detail)"
        case .badToken(let detail):
            return "invalid join token: \(detail); ask the manager for a new one with `pier join-token worker`"
        case .notANodeCertificate(let detail):
            return "not a Pier node certificate: \(detail)"
        case .untrusted(let detail):
            return "peer certificate refused: \(detail)"
        case .revoked(let subject, let reason):
            return "the certificate of \(subject) is refused: \(reason)"
        }
    }
}

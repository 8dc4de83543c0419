import Foundation
import PierPKI
import X509

/// Certificates, certificate requests and join tokens as nodes and operators hand them over.
enum FuzzPKI {
    /// The bytes as PEM certificates and as a PEM request; each certificate as a node identity.
    /// The bytes as one DER certificate, too, so the identity checks see certificates that
    /// base64 would rarely produce.
    static func pem(_ bytes: [UInt8]) -> String? {
        var certificates: [Certificate] = []
        if let text = String(validating: bytes, as: UTF8.self) {
            certificates += (try? Certificate.all(pem: text)) ?? []
            _ = try? CertificateRequest.parseCSR(pem: text)
        }
        if let der = try? Certificate(derEncoded: bytes) { certificates.append(der) }
        for certificate in certificates {
            _ = try? PeerIdentity(certificate: certificate)
            _ = try? certificate.sha256Fingerprint()
            _ = try? certificate.pemString()
        }
        return nil
    }

    /// A token that parses must print to the same token and pin its own CA.
    static func joinToken(_ bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let token = try? JoinToken.parse(text) else { return nil }
        guard let again = try? JoinToken.parse(token.text), again == token else { return "token \(token) does not parse from its own text" }
        guard token.pins(caFingerprint: token.caFingerprint), token.secretMatches(again) else { return "token \(token) does not match itself" }
        return nil
    }
}

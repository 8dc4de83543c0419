import Crypto
import X509

/// A P-256 private key held in the forms Pier uses; Sendable, unlike `P256.Signing.PrivateKey`.
struct P256Key: Sendable {
    /// PKCS#8 PEM, as written to disk.
    let pem: String
    /// PKCS#8 DER, for NIOSSL.
    let der: [UInt8]
    /// The key for signing certificates and requests.
    let signer: Certificate.PrivateKey
    let publicKey: Certificate.PublicKey

    init(_ key: P256.Signing.PrivateKey) {
        pem = key.pemRepresentation
        der = Array(key.derRepresentation)
        signer = Certificate.PrivateKey(key)
        publicKey = Certificate.PublicKey(key.publicKey)
    }

    init(pem: String) throws {
        self.init(try P256.Signing.PrivateKey(pemRepresentation: pem))
    }
}

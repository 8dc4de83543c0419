import Crypto
import Foundation

/// An ed25519 key pair for signing images (`pier key create`). Files are PEM-like text around
/// the raw 32-byte keys: `-----BEGIN PIER ED25519 PRIVATE KEY-----` (mode 0600) and
/// `-----BEGIN PIER ED25519 PUBLIC KEY-----`.
public struct SigningKey: Sendable {
    /// The raw 32-byte private key (Crypto's key type is not Sendable; it is made when needed).
    let raw: Data
    var privateKey: Curve25519.Signing.PrivateKey {
        // `raw` was checked when the value was made.
        (try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)) ?? Curve25519.Signing.PrivateKey()
    }

    public init() { raw = Data(Curve25519.Signing.PrivateKey().rawRepresentation) }
    public init(raw: Data) throws(SignatureError) {
        guard (try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)) != nil else {
            throw .invalidKey("not a 32-byte ed25519 private key")
        }
        self.raw = raw
    }

    public var publicKey: TrustedKey { TrustedKey(Data(privateKey.publicKey.rawRepresentation)) }

    public var pem: String { PEMText.encode(raw, label: "PIER ED25519 PRIVATE KEY") }

    public static func parse(_ text: String) throws(SignatureError) -> SigningKey {
        try SigningKey(raw: PEMText.decode(text, label: "PIER ED25519 PRIVATE KEY"))
    }

    /// Signs a manifest digest.
    public func sign(_ digest: Digest) throws -> SignatureBlob {
        let signature = try privateKey.signature(for: SignatureBlob.payload(digest))
        return SignatureBlob(digest: digest.description, key: publicKey.id, publicKey: publicKey.raw.base64EncodedString(),
                             signature: Data(signature).base64EncodedString())
    }
}

/// A public key a node or manager trusts (`--trust-key FILE.pub`).
public struct TrustedKey: Sendable, Hashable {
    public let raw: Data
    public init(_ raw: Data) { self.raw = raw }

    /// The key's id: the first 16 hex digits of the SHA-256 of the raw key.
    public var id: String { String(Digest.sha256(of: raw).encoded.prefix(16)) }

    public var pem: String { PEMText.encode(raw, label: "PIER ED25519 PUBLIC KEY") }

    public static func parse(_ text: String) throws(SignatureError) -> TrustedKey {
        let raw = try PEMText.decode(text, label: "PIER ED25519 PUBLIC KEY")
        guard raw.count == 32 else { throw .invalidKey("not a 32-byte ed25519 public key") }
        return TrustedKey(raw)
    }

    public static func load(_ path: String) throws(SignatureError) -> TrustedKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .invalidKey("cannot read \(path)") }
        do { return try parse(text) } catch { throw .invalidKey("\(path): \(error)") }
    }

    /// Whether `blob` is this key's valid signature of `digest`.
    public func verifies(_ blob: SignatureBlob, of digest: Digest) -> Bool {
        guard blob.digest == digest.description, let signature = Data(base64Encoded: blob.signature),
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return false }
        return key.isValidSignature(signature, for: SignatureBlob.payload(digest))
    }
}

/// The signature of one manifest digest, stored as the single layer of a signature artifact.
public struct SignatureBlob: Codable, Sendable, Hashable {
    /// The signed manifest digest.
    public var digest: String
    /// The signing key's id.
    public var key: String
    /// The signing public key (raw, base64): informative; trust comes from the verifier's keys.
    public var publicKey: String
    /// ed25519 over `pier-signature-v1:<digest>`, base64.
    public var signature: String

    public init(digest: String, key: String, publicKey: String, signature: String) {
        self.digest = digest; self.key = key; self.publicKey = publicKey; self.signature = signature
    }

    /// What is signed: a fixed prefix and the digest, so a signature means nothing else.
    public static func payload(_ digest: Digest) -> Data { Data("pier-signature-v1:\(digest)".utf8) }
}

/// Signature artifacts (OCI image-spec 1.1): a manifest with `artifactType`
/// `application/vnd.pier.signature.v1+json`, the empty config, one `SignatureBlob` layer per
/// signing key (as cosign adds a layer per signature) and the signed manifest as its `subject`.
/// A store keeps one under the tag `sha256-<hex>.sig` of the image's repository (the tag scheme
/// cosign uses, which every registry serves); Pier's registry also lists them in the referrers API.
public enum SignatureArtifact {
    public static let artifactType = "application/vnd.pier.signature.v1+json"
    public static let emptyConfig = Data("{}".utf8)
    /// The most signatures one artifact carries (and a verifier reads).
    public static let maxSignatures = 16
    /// The largest signature layer a verifier reads.
    public static let maxLayerSize: Int64 = 64 << 10

    /// The tag that holds the signature of `digest`.
    public static func tag(for digest: Digest) -> String { "\(digest.algorithm)-\(digest.encoded).sig" }

    /// The artifact manifest and its blobs (the empty config and one signature per key, ordered
    /// by key id so that the same signatures always make the same artifact).
    public static func make(subject: Descriptor, signatures: [SignatureBlob]) throws -> (manifest: Data, blobs: [Data]) {
        let config = Descriptor(mediaType: MediaType.ociEmpty, digest: Digest.sha256(of: emptyConfig), size: Int64(emptyConfig.count))
        var blobs = [emptyConfig]
        var layers: [Descriptor] = []
        for signature in signatures.sorted(by: { $0.key < $1.key }) {
            let blob = try SpecJSON.encode(signature)
            blobs.append(blob)
            layers.append(Descriptor(mediaType: artifactType, digest: Digest.sha256(of: blob), size: Int64(blob.count)))
        }
        let manifest = ImageManifest(config: config, layers: layers, subject: subject, artifactType: artifactType)
        return (try manifest.encoded(), blobs)
    }

    /// Whether `manifest` is shaped like a signature artifact of `digest` that a verifier reads.
    public static func accepts(_ manifest: ImageManifest, of digest: Digest) -> Bool {
        manifest.artifactType == artifactType && manifest.subject?.digest == digest
            && (1...maxSignatures).contains(manifest.layers.count) && manifest.config.size <= maxLayerSize
            && manifest.layers.allSatisfy { $0.size <= maxLayerSize }
    }
}

public enum SignatureError: Error, Sendable, CustomStringConvertible, Equatable {
    case invalidKey(String)

    public var description: String {
        switch self {
        case .invalidKey(let m): m
        }
    }
}

/// `-----BEGIN LABEL-----`, base64 lines, `-----END LABEL-----`.
enum PEMText {
    static func encode(_ data: Data, label: String) -> String {
        "-----BEGIN \(label)-----\n\(data.base64EncodedString())\n-----END \(label)-----\n"
    }

    static func decode(_ text: String, label: String) throws(SignatureError) -> Data {
        let begin = "-----BEGIN \(label)-----", end = "-----END \(label)-----"
        guard let start = text.range(of: begin), let stop = text.range(of: end), start.upperBound <= stop.lowerBound else {
            throw .invalidKey("expected a \(label) block")
        }
        let body = text[start.upperBound..<stop.lowerBound].filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: String(body)) else { throw .invalidKey("the \(label) block is not base64") }
        return data
    }
}

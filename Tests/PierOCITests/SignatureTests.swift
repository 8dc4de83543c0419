import Foundation
import Testing
@testable import PierOCI

@Suite("Image signatures: ed25519 keys, signature blobs and artifacts")
struct SignatureTests {
    static let digest = Digest.sha256(of: Data("a manifest".utf8))

    @Test func signaturesVerifyOnlyWithTheirKeyAndDigest() throws {
        let key = SigningKey(), other = SigningKey()
        let signature = try key.sign(Self.digest)
        #expect(signature.key == key.publicKey.id && signature.digest == Self.digest.description)
        #expect(key.publicKey.verifies(signature, of: Self.digest))
        #expect(!other.publicKey.verifies(signature, of: Self.digest))
        #expect(!key.publicKey.verifies(signature, of: Digest.sha256(of: Data("another".utf8))))
        var tampered = signature
        var bytes = Array(Data(base64Encoded: signature.signature)!)
        bytes[10] ^= 1
        tampered.signature = Data(bytes).base64EncodedString()
        #expect(!key.publicKey.verifies(tampered, of: Self.digest))
        var relabelled = signature
        relabelled.digest = Digest.sha256(of: Data("another".utf8)).description
        #expect(!key.publicKey.verifies(relabelled, of: Self.digest))
    }

    @Test func keysRoundTripThroughTheirFilesAndBadFilesAreRefused() throws {
        let key = SigningKey()
        let reread = try SigningKey.parse(key.pem)
        #expect(reread.publicKey == key.publicKey)
        #expect(try TrustedKey.parse(key.publicKey.pem) == key.publicKey)
        #expect(throws: SignatureError.self) { try TrustedKey.parse(key.pem) }  // a private key is not a public one
        #expect(throws: SignatureError.self) { try SigningKey.parse("-----BEGIN PIER ED25519 PRIVATE KEY-----\nAAAA\n-----END PIER ED25519 PRIVATE KEY-----\n") }
        #expect(throws: SignatureError.self) { try TrustedKey.parse("hello") }
    }

    @Test func theArtifactNamesItsSubjectAndCarriesTheSignature() throws {
        let key = SigningKey()
        let subject = Descriptor(mediaType: MediaType.ociManifest, digest: Self.digest, size: 10)
        let artifact = try SignatureArtifact.make(subject: subject, signatures: [try key.sign(Self.digest)])
        let manifest: ImageManifest = try SpecJSON.decode(artifact.manifest, what: "artifact", digest: nil)
        #expect(manifest.subject == subject && manifest.artifactType == SignatureArtifact.artifactType)
        #expect(manifest.config.mediaType == MediaType.ociEmpty && manifest.config.digest == Digest.sha256(of: artifact.blobs[0]))
        let blob = try JSONDecoder().decode(SignatureBlob.self, from: artifact.blobs[1])
        #expect(key.publicKey.verifies(blob, of: Self.digest))
        #expect(SignatureArtifact.tag(for: Self.digest) == "sha256-\(Self.digest.encoded).sig")
        #expect(SignatureArtifact.accepts(manifest, of: Self.digest))
        #expect(!SignatureArtifact.accepts(manifest, of: Digest.sha256(of: Data("another".utf8))))
    }

    @Test func severalKeysMakeOneArtifactWithALayerEach() throws {
        let keys = [SigningKey(), SigningKey(), SigningKey()]
        let subject = Descriptor(mediaType: MediaType.ociManifest, digest: Self.digest, size: 10)
        let signatures = try keys.map { try $0.sign(Self.digest) }
        let artifact = try SignatureArtifact.make(subject: subject, signatures: signatures)
        // The same signatures in another order make the same artifact.
        #expect(try SignatureArtifact.make(subject: subject, signatures: signatures.reversed()).manifest == artifact.manifest)
        let manifest: ImageManifest = try SpecJSON.decode(artifact.manifest, what: "artifact", digest: nil)
        #expect(manifest.layers.count == 3 && artifact.blobs.count == 4)
        #expect(SignatureArtifact.accepts(manifest, of: Self.digest))
        let blobs = try artifact.blobs.dropFirst().map { try JSONDecoder().decode(SignatureBlob.self, from: $0) }
        for key in keys { #expect(blobs.contains { key.publicKey.verifies($0, of: Self.digest) }) }
        // More signatures than a verifier reads: not accepted.
        let many = try (0...SignatureArtifact.maxSignatures).map { _ in try SigningKey().sign(Self.digest) }
        let tooMany: ImageManifest = try SpecJSON.decode(try SignatureArtifact.make(subject: subject, signatures: many).manifest, what: "artifact", digest: nil)
        #expect(!SignatureArtifact.accepts(tooMany, of: Self.digest))
    }
}

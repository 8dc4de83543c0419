import Foundation
import PierOCI

extension ImageService {
    /// Adds `signature` of the image `reference` to the signature artifact tagged
    /// `sha256-<hex>.sig` in the image's repository. The signature must be of the image's
    /// manifest digest and valid for the public key it carries; whether that key is trusted is
    /// for the verifier (`requireSignature`). Returns the artifact's digest.
    @discardableResult
    public func addSignature(_ signature: SignatureBlob, to reference: String) async throws -> Digest {
        let image = try await resolve(reference)
        guard signature.digest == image.manifestDigest.description else {
            throw ImageServiceError.invalid("the signature is of \(signature.digest), but \(reference) is \(image.manifestDigest)")
        }
        guard let raw = Data(base64Encoded: signature.publicKey), TrustedKey(raw).verifies(signature, of: image.manifestDigest) else {
            throw ImageServiceError.invalid("the signature of \(reference) does not verify with the key it names (\(signature.key))")
        }
        guard let named = image.reference else {
            throw ImageServiceError.invalid("\(reference) has no name to keep its signature under; tag it first")
        }
        let manifestData = try await content.readDocument(image.manifestDigest)
        let subject = Descriptor(mediaType: image.manifest.mediaType ?? MediaType.ociManifest, digest: image.manifestDigest,
                                 size: Int64(manifestData.count))
        let tag: ImageReference
        do { tag = try named.withTag(SignatureArtifact.tag(for: image.manifestDigest)) } catch {
            throw ImageServiceError.invalid("cannot name the signature of \(named.display): \(error)")
        }
        // One artifact per image and repository, one signature in it per key: a second key adds
        // its signature, the same key signing again replaces its own.
        var all = await storedSignatures(under: tag, of: image.manifestDigest).filter { $0.key != signature.key }
        all.append(signature)
        guard all.count <= SignatureArtifact.maxSignatures else {
            throw ImageServiceError.invalid("\(named.display) already carries \(all.count - 1) signatures, the most one image keeps")
        }
        let artifact = try SignatureArtifact.make(subject: subject, signatures: all)
        for blob in artifact.blobs { try await content.ingest(data: blob, expecting: nil, size: nil) }
        let stored = try await content.ingest(data: artifact.manifest, expecting: nil, size: nil)
        try await images.tag(tag, manifest: stored.digest)
        return stored.digest
    }

    /// The signatures of `digest` in the artifact tagged `tag`, each blob checked against its digest.
    private func storedSignatures(under tag: ImageReference, of digest: Digest) async -> [SignatureBlob] {
        guard let record = await images.record(for: tag) else { return [] }
        return await signatures(inArtifact: record.manifest, of: digest)
    }

    private func signatures(inArtifact artifact: Digest, of digest: Digest) async -> [SignatureBlob] {
        guard let data = try? await content.readDocument(artifact),
              let manifest: ImageManifest = try? SpecJSON.decode(data, what: "signature artifact", digest: artifact),
              SignatureArtifact.accepts(manifest, of: digest) else { return [] }
        var found: [SignatureBlob] = []
        for layer in manifest.layers {
            guard let blobData = try? await content.read(layer.digest, limit: SignatureArtifact.maxLayerSize),
                  Digest.sha256(of: blobData) == layer.digest,
                  let blob = try? JSONDecoder().decode(SignatureBlob.self, from: blobData) else { continue }
            found.append(blob)
        }
        return found
    }

    /// The signatures stored for the image `reference` (under any repository's signature tag).
    public func signatures(of reference: String) async throws -> [SignatureBlob] {
        try await signatures(ofDigest: try await resolve(reference).manifestDigest)
    }

    public func signatures(ofDigest digest: Digest) async throws -> [SignatureBlob] {
        let tag = SignatureArtifact.tag(for: digest)
        var found: [SignatureBlob] = []
        for record in await images.list() where record.reference.tag == tag {
            found += await signatures(inArtifact: record.manifest, of: digest)
        }
        return found
    }

    /// Throws unless the image `reference` (a name or `name@sha256:…`) carries a signature by
    /// one of `trusted`; returns the id of the key that signed it.
    @discardableResult
    public func requireSignature(_ reference: String, trusted: [TrustedKey]) async throws -> String {
        let image = try await resolve(reference)
        for signature in try await signatures(ofDigest: image.manifestDigest) {
            if let key = trusted.first(where: { $0.verifies(signature, of: image.manifestDigest) }) { return key.id }
        }
        let name = image.reference?.display ?? reference
        let digest = image.manifestDigest.description
        throw ImageServiceError.invalid(
            "image \(name)\(name == digest ? "" : " (\(digest))") is not signed by a trusted key (trusted: \(trusted.map(\.id).joined(separator: ", "))); "
                + "sign it with `pier image sign --key KEY \(name)`")
    }
}

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PierOCI

/// What a push sent.
public struct PushResult: Sendable, Hashable {
    /// The manifest (or index) the tag now points at on the registry.
    public var digest: Digest
    /// Blobs uploaded; the others were on the registry already.
    public var uploadedBlobs: [Digest]
    public var uploadedBytes: Int64
}

extension RegistryClient {
    /// Pushes the stored image `local` to `repository:tag`: its config and layers (those the
    /// registry lacks, in chunks, resuming after a broken connection where the registry says it
    /// stands), then its manifest, then, when every manifest of its index is in the store, the
    /// index under the tag (otherwise the platform manifest alone, as `skopeo copy` without `--all`).
    public func push(_ local: ImageReference, repository: String, tag: String) async throws -> PushResult {
        guard RepositoryName.isValid(repository), RepositoryName.isValidTag(tag) else {
            throw RegistryClientError.invalidImage("\(repository):\(tag)", reason: "not a valid repository and tag")
        }
        guard let record = await images.record(for: local) else {
            throw RegistryClientError.invalidImage(local.display, reason: "no such image in the store")
        }
        var manifests = [record.manifest]
        var index: (digest: Digest, data: Data)?
        if let indexDigest = record.index, let data = try? await content.readDocument(indexDigest),
           let parsed = try? ImageIndex.decode(data, digest: indexDigest) {
            var all = true
            for child in parsed.manifests where !(await content.has(child.digest)) { all = false }
            if all {
                manifests = parsed.manifests.map(\.digest)
                index = (indexDigest, data)
            }
        }
        var uploaded: [Digest] = []
        var bytes: Int64 = 0
        var last: (digest: Digest, data: Data)?
        for manifestDigest in manifests {
            let data = try await content.readDocument(manifestDigest)
            let manifest: ImageManifest
            do { manifest = try SpecJSON.decode(data, what: "image manifest", digest: manifestDigest) } catch {
                throw RegistryClientError.invalidImage(local.display, reason: "its manifest \(manifestDigest) is unreadable: \(error)")
            }
            for blob in [manifest.config] + manifest.layers where !uploaded.contains(blob.digest) {
                if try await hasBlob(blob.digest, repository: repository) { continue }
                guard let sent = try await upload(blob, repository: repository) else { continue }  // mounted
                bytes += sent
                uploaded.append(blob.digest)
            }
            // By digest when an index follows; by tag when this manifest is the image.
            try await putManifest(data, digest: manifestDigest, repository: repository, reference: index == nil ? tag : manifestDigest.description)
            last = (manifestDigest, data)
        }
        if let index {
            try await putManifest(index.data, digest: index.digest, repository: repository, reference: tag)
            last = index
        }
        // The image's signature travels with it (see `SignatureArtifact`).
        let signatureTag = SignatureArtifact.tag(for: record.manifest)
        if tag != signatureTag, let signature = try? local.withTag(signatureTag), await images.record(for: signature) != nil {
            let pushed = try await push(signature, repository: repository, tag: signatureTag)
            uploaded += pushed.uploadedBlobs
            bytes += pushed.uploadedBytes
        }
        return PushResult(digest: last?.digest ?? record.manifest, uploadedBlobs: uploaded, uploadedBytes: bytes)
    }

    /// Whether the registry has the blob in `repository` (HEAD).
    func hasBlob(_ digest: Digest, repository: String) async throws -> Bool {
        let url = "\(baseURL)/v2/\(repository)/blobs/\(digest)"
        let response = try await withRetries(url: url) {
            var request = self.request(url)
            request.method = .HEAD
            return try await self.execute(request, deadline: .now() + Self.timeAmount(self.configuration.readTimeout))
        }
        switch response.status.code {
        case 200: return true
        case 404: return false
        default: throw Self.error(for: response, body: ByteBuffer(), url: url)
        }
    }

    /// Uploads one blob from the store in chunks; after a broken connection asks the registry how
    /// much it has (`GET` on the session) and continues from there. Returns the bytes sent, or
    /// nil when the registry mounted the blob from another of its repositories instead (the
    /// session starts with a mount request; a registry that cannot mount opens a session).
    func upload(_ blob: Descriptor, repository: String) async throws -> Int64? {
        let start = "\(baseURL)/v2/\(repository)/blobs/uploads/?mount=\(blob.digest)"
        let opened = try await withRetries(url: start) { () async throws -> HTTPClientResponse in
            var request = self.request(start)
            request.method = .POST
            request.headers.replaceOrAdd(name: "Content-Length", value: "0")
            return try await self.execute(request, deadline: .now() + Self.timeAmount(self.configuration.readTimeout))
        }
        if opened.status == .created { return nil }
        guard opened.status == .accepted, var session = opened.headers.first(name: "Location").map(absolute) else {
            throw Self.error(for: opened, body: (try? await opened.body.collect(upTo: 64 << 10)) ?? ByteBuffer(), url: start)
        }
        let path = try await content.path(for: blob.digest)
        let handle = try FileHandle(forReadingFrom: path)
        defer { try? handle.close() }
        let chunkSize = max(1 << 16, configuration.uploadChunkBytes)
        var offset: Int64 = 0, sent: Int64 = 0, failures = 0
        while offset < blob.size {
            try handle.seek(toOffset: UInt64(offset))
            let chunk = try handle.read(upToCount: Int(min(Int64(chunkSize), blob.size - offset))) ?? Data()
            guard !chunk.isEmpty else { throw RegistryClientError.blobDoesNotVerify(blob.digest, "the stored blob is shorter than its \(blob.size) bytes") }
            var request = self.request(session)
            request.method = .PATCH
            request.headers.replaceOrAdd(name: "Content-Type", value: "application/octet-stream")
            request.headers.replaceOrAdd(name: "Content-Range", value: "\(offset)-\(offset + Int64(chunk.count) - 1)")
            request.headers.replaceOrAdd(name: "Content-Length", value: "\(chunk.count)")
            request.body = .bytes(ByteBuffer(bytes: chunk))
            do {
                let response = try await execute(request, deadline: .now() + Self.timeAmount(configuration.readTimeout))
                sent += Int64(chunk.count)
                switch response.status.code {
                case 202:
                    if let location = response.headers.first(name: "Location") { session = absolute(location) }
                    offset = Self.rangeEnd(response.headers.first(name: "Range")).map { $0 + 1 } ?? offset + Int64(chunk.count)
                case 416:
                    // The registry holds a different amount than we thought: continue where it says.
                    failures += 1
                    guard failures < max(1, configuration.maxAttempts) else {
                        throw RegistryClientError.unexpectedResponse(url: session, "the registry keeps refusing the chunk at byte \(offset) (416)")
                    }
                    offset = Self.rangeEnd(response.headers.first(name: "Range")).map { $0 + 1 } ?? 0
                    continue
                default:
                    throw Self.error(for: response, body: (try? await response.body.collect(upTo: 64 << 10)) ?? ByteBuffer(), url: session)
                }
                failures = 0
            } catch let error as RegistryClientError {
                throw error
            } catch {
                failures += 1
                guard failures < max(1, configuration.maxAttempts) else {
                    throw RegistryClientError.transfer(url: session, attempts: failures, "\(error)")
                }
                try await Task.sleep(for: .milliseconds(100 << min(failures, 5)))
                // Where does the upload stand? Resume from there.
                let status = try await withRetries(url: session) {
                    try await self.execute(self.request(session), deadline: .now() + Self.timeAmount(self.configuration.readTimeout))
                }
                guard status.status.code == 204 else {
                    throw Self.error(for: status, body: (try? await status.body.collect(upTo: 64 << 10)) ?? ByteBuffer(), url: session)
                }
                offset = Self.rangeEnd(status.headers.first(name: "Range")).map { $0 + 1 } ?? 0
            }
        }
        let separator = session.contains("?") ? "&" : "?"
        let finish = "\(session)\(separator)digest=\(blob.digest)"
        let done = try await withRetries(url: finish) { () async throws -> HTTPClientResponse in
            var request = self.request(finish)
            request.method = .PUT
            request.headers.replaceOrAdd(name: "Content-Length", value: "0")
            return try await self.execute(request, deadline: .now() + Self.timeAmount(self.configuration.readTimeout))
        }
        guard done.status == .created else {
            throw Self.error(for: done, body: (try? await done.body.collect(upTo: 64 << 10)) ?? ByteBuffer(), url: finish)
        }
        return sent
    }

    func putManifest(_ data: Data, digest: Digest, repository: String, reference: String) async throws {
        let url = "\(baseURL)/v2/\(repository)/manifests/\(reference)"
        guard let mediaType = ManifestMediaType.detect(data) else {
            throw RegistryClientError.invalidManifest(url: url, "the stored document \(digest) is not a manifest or an index")
        }
        let response = try await withRetries(url: url) { () async throws -> HTTPClientResponse in
            var request = self.request(url)
            request.method = .PUT
            request.headers.replaceOrAdd(name: "Content-Type", value: mediaType)
            request.body = .bytes(ByteBuffer(bytes: data))
            return try await self.execute(request, deadline: .now() + Self.timeAmount(self.configuration.readTimeout))
        }
        guard response.status == .created else {
            throw Self.error(for: response, body: (try? await response.body.collect(upTo: 64 << 10)) ?? ByteBuffer(), url: url)
        }
        if let announced = response.headers.first(name: "Docker-Content-Digest"), announced != digest.description {
            throw RegistryClientError.unexpectedResponse(url: url, "the registry stored \(announced), not \(digest)")
        }
    }

    /// A `Location` header made absolute against the registry.
    func absolute(_ location: String) -> String {
        location.hasPrefix("http://") || location.hasPrefix("https://") ? location : baseURL + (location.hasPrefix("/") ? "" : "/") + location
    }

    /// The last byte of `Range: 0-<last>` (nil when absent or malformed).
    static func rangeEnd(_ header: String?) -> Int64? {
        guard let header, let dash = header.firstIndex(of: "-") else { return nil }
        return Int64(header[header.index(after: dash)...].trimmingCharacters(in: .whitespaces))
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PierOCI

/// The push side of the distribution spec:
///
///     POST   /v2/<name>/blobs/uploads/                  202, Location of a new upload session
///     POST   /v2/<name>/blobs/uploads/?digest=<d>       201, the body is the whole blob (monolithic)
///     POST   /v2/<name>/blobs/uploads/?mount=<d>&from=<repo>   201 if the store has it, else 202 (a session)
///     PATCH  /v2/<name>/blobs/uploads/<id>              202, a chunk (`Content-Range: <start>-<end>`);
///                                                       416 with `Range: 0-<last>` when it does not start there
///     GET    /v2/<name>/blobs/uploads/<id>              204, `Range: 0-<last>`: where to resume
///     PUT    /v2/<name>/blobs/uploads/<id>?digest=<d>   201 once the digest verifies; 400 DIGEST_INVALID otherwise
///     DELETE /v2/<name>/blobs/uploads/<id>              204, the session is gone
///     PUT    /v2/<name>/manifests/<tag|digest>          201; 400 MANIFEST_BLOB_UNKNOWN when a blob it names is missing
///     DELETE /v2/<name>/manifests/<tag|digest>          202; a digest removes every tag of this repository on it
///     DELETE /v2/<name>/blobs/<digest>                  202 when no image uses it, 403 DENIED otherwise
///
/// A blob enters the content store only once its digest verifies; a manifest only once every
/// blob it names is there. A tag is the last thing written, so a pull never sees half an image.
extension RegistryRoutes {
    func write(_ action: RegistryAction, uploads: RegistryUploads, request: Request, context: Context, client: String) async throws -> Response {
        switch action {
        case .startUpload(let name):
            return try await startUpload(name, uploads: uploads, request: request, client: client)
        case .upload(let name, let id):
            switch request.method {
            case .get:
                let size = try await uploads.size(id, repository: name)
                return Response(status: .noContent, headers: sessionHeaders(name, id: id, size: size))
            case .patch:
                return try await appendChunk(name, id: id, uploads: uploads, request: request)
            case .put:
                return try await finishUpload(name, id: id, uploads: uploads, request: request)
            default:
                _ = try await uploads.size(id, repository: name)
                await uploads.discard(id)
                return Response(status: .noContent)
            }
        case .pushManifest(let name, let reference):
            return try await pushManifest(name, reference: reference, uploads: uploads, request: request)
        case .deleteManifest(let name, let reference):
            return try await deleteManifest(name, reference: reference)
        case .deleteBlob(let name, let reference):
            return try await deleteBlob(name, reference: reference)
        default:
            throw RegistryHTTPError(.unsupported, "\(request.method) \(request.uri.path) is not a write")
        }
    }

    // MARK: Blob uploads

    private func startUpload(_ name: String, uploads: RegistryUploads, request: Request, client: String) async throws -> Response {
        let query = request.uri.queryParameters
        if let mount = query["mount"].map(String.init) {
            let digest = try Self.parseDigest(mount)
            if await content.has(digest) {
                await uploads.recordPushed(digest, repository: name)
                return blobCreated(name, digest)
            }
            // Not here: the client uploads it in the session that follows (the spec's fallback).
        }
        let id: String
        do { id = try await uploads.start(repository: name, client: client) } catch {
            await Self.drain(request.body)
            throw error
        }
        if let digestText = query["digest"].map(String.init) {
            // Monolithic: the body is the blob.
            let digest = try Self.parseDigest(digestText)
            _ = try await uploads.acquire(id, repository: name)
            do {
                try await append(request.body, to: uploads.dataURL(id), from: 0, limit: uploads.maxBytes)
            } catch {
                await uploads.discard(id)
                throw error
            }
            return try await commit(name, id: id, digest: digest, uploads: uploads)
        }
        return Response(status: .accepted, headers: sessionHeaders(name, id: id, size: 0))
    }

    private func appendChunk(_ name: String, id: String, uploads: RegistryUploads, request: Request) async throws -> Response {
        let size: Int64
        do { size = try await uploads.acquire(id, repository: name) } catch {
            await Self.drain(request.body)
            throw error
        }
        var consumed = false
        do {
            if let range = request.headers[.contentRange] {
                guard let (start, end) = Self.parseChunkRange(range), end >= start else {
                    throw RegistryHTTPError(.blobUploadInvalid, "Content-Range \"\(range)\" is not <start>-<end>")
                }
                guard start == size else {
                    // Tell the client where the upload stands so it resumes from there.
                    // The error's JSON body has its own length: no Content-Length from the session headers.
                    var headers = sessionHeaders(name, id: id, size: size)
                    headers[.contentLength] = nil
                    throw RegistryHTTPError(
                        .rangeInvalid, "the chunk starts at byte \(start) but upload \(id) has \(size) bytes",
                        detail: "resume at byte \(size)", headers: headers)
                }
                if let length = request.headers[.contentLength].flatMap(Int64.init), length != end - start + 1 {
                    throw RegistryHTTPError(.blobUploadInvalid, "Content-Range \(range) announces \(end - start + 1) bytes, Content-Length \(length)")
                }
            }
            consumed = true
            let written = try await append(request.body, to: uploads.dataURL(id), from: size, limit: uploads.maxBytes)
            await uploads.release(id)
            return Response(status: .accepted, headers: sessionHeaders(name, id: id, size: size + written))
        } catch {
            await uploads.release(id)
            // Read what the client is still sending, so it gets the answer and not a reset.
            if !consumed { await Self.drain(request.body) }
            throw error
        }
    }

    /// Reads and discards a request body (up to 256 MiB), for answers given before reading it.
    static func drain(_ body: RequestBody) async {
        var total = 0
        do {
            for try await buffer in body {
                total += buffer.readableBytes
                if total > 256 << 20 { return }
            }
        } catch {}
    }

    private func finishUpload(_ name: String, id: String, uploads: RegistryUploads, request: Request) async throws -> Response {
        guard let digestText = request.uri.queryParameters["digest"].map(String.init) else {
            await Self.drain(request.body)
            throw RegistryHTTPError(.digestInvalid, "finishing an upload needs ?digest=<digest>")
        }
        let digest: Digest
        let size: Int64
        do {
            digest = try Self.parseDigest(digestText)
            size = try await uploads.acquire(id, repository: name)
        } catch {
            await Self.drain(request.body)
            throw error
        }
        do {
            try await append(request.body, to: uploads.dataURL(id), from: size, limit: uploads.maxBytes)
        } catch {
            await uploads.release(id)
            throw error
        }
        return try await commit(name, id: id, digest: digest, uploads: uploads)
    }

    /// Moves a finished upload into the content store if, and only if, its digest verifies; the
    /// session is gone either way.
    private func commit(_ name: String, id: String, digest: Digest, uploads: RegistryUploads) async throws -> Response {
        defer { Task { await uploads.discard(id) } }
        do {
            try await content.ingest(file: uploads.dataURL(id), expecting: digest, size: nil)
        } catch ContentStoreError.digestMismatch(let expected, let actual) {
            throw RegistryHTTPError(.digestInvalid, "the uploaded bytes are \(actual), not \(expected); nothing was stored",
                                    detail: "upload the blob again")
        }
        await uploads.recordPushed(digest, repository: name)
        return blobCreated(name, digest)
    }

    /// Streams a request body onto the end of `file`, which must hold `from` bytes; returns the
    /// bytes written. Bytes received before a broken connection stay: the client resumes after them.
    @discardableResult
    private func append(_ body: RequestBody, to file: URL, from: Int64, limit: Int64) async throws -> Int64 {
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(from))
        var written: Int64 = 0
        for try await buffer in body {
            written += Int64(buffer.readableBytes)
            guard from + written <= limit else {
                try handle.truncate(atOffset: UInt64(from))
                throw RegistryHTTPError(.sizeInvalid, "the blob exceeds this registry's limit of \(limit) bytes")
            }
            try handle.write(contentsOf: buffer.readableBytesView)
        }
        return written
    }

    private func sessionHeaders(_ name: String, id: String, size: Int64) -> HTTPFields {
        var headers: HTTPFields = [
            .location: "/v2/\(name)/blobs/uploads/\(id)",
            .range: "0-\(max(0, size - 1))",
            .contentLength: "0",
        ]
        headers[.dockerUploadUUID] = id
        return headers
    }

    private func blobCreated(_ name: String, _ digest: Digest) -> Response {
        Response(status: .created, headers: [
            .location: "/v2/\(name)/blobs/\(digest)", .dockerContentDigest: digest.description, .contentLength: "0",
        ])
    }

    static func parseDigest(_ text: String) throws(RegistryHTTPError) -> Digest {
        do { return try Digest(parsing: text) } catch {
            throw RegistryHTTPError(.digestInvalid, "\(text) is not a valid digest", detail: error.description)
        }
    }

    /// `<start>-<end>`, as the spec writes chunk ranges (a `bytes ` prefix is tolerated).
    static func parseChunkRange(_ text: String) -> (Int64, Int64)? {
        var t = Substring(text.trimmingCharacters(in: .whitespaces))
        if t.hasPrefix("bytes ") { t = t.dropFirst(6) } else if t.hasPrefix("bytes=") { t = t.dropFirst(6) }
        if let slash = t.firstIndex(of: "/") { t = t[..<slash] }
        let parts = t.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = Int64(parts[0]), let b = Int64(parts[1]), a >= 0 else { return nil }
        return (a, b)
    }

    // MARK: Manifests

    private func pushManifest(_ name: String, reference: String, uploads: RegistryUploads, request: Request) async throws -> Response {
        let data: Data
        do {
            data = Data(buffer: try await request.body.collect(upTo: Int(ContentStoreLimits.maxDocumentBytes)))
        } catch {
            throw RegistryHTTPError(.sizeInvalid, "a manifest may have at most \(ContentStoreLimits.maxDocumentBytes) bytes")
        }
        guard let mediaType = ManifestMediaType.detect(data) else {
            throw RegistryHTTPError(.manifestInvalid, "the body is not an image manifest or index",
                                    detail: "Content-Type: \(request.headers[.contentType] ?? "none")")
        }
        let digest = Digest.sha256(of: data)
        var tag: String?
        if reference.contains(":") {
            guard try Self.parseDigest(reference) == digest else {
                throw RegistryHTTPError(.digestInvalid, "the manifest is \(digest), not \(reference)")
            }
        } else {
            guard RepositoryName.isValidTag(reference) else {
                throw RegistryHTTPError(.manifestInvalid, "\"\(reference)\" is not a valid tag")
            }
            tag = reference
        }

        // Every blob or manifest the document names must be here already.
        var children: [Descriptor]
        var subject: Digest?
        var platformManifest = digest
        var index: Digest?
        if MediaType.isIndex(mediaType) {
            let parsed: ImageIndex
            do { parsed = try ImageIndex.decode(data, digest: digest) } catch {
                throw RegistryHTTPError(.manifestInvalid, "invalid image index", detail: error.description)
            }
            children = parsed.manifests
            index = digest
            let chosen = Platform.bestMatch(in: parsed.manifests, for: configuration.push?.platform ?? .host) ?? parsed.manifests.first
            guard let chosen else { throw RegistryHTTPError(.manifestInvalid, "the index lists no manifests") }
            platformManifest = chosen.digest
        } else {
            let parsed: ImageManifest
            do {
                parsed = try SpecJSON.decode(data, what: "image manifest", digest: digest)
                guard parsed.schemaVersion == 2 else { throw ImageSpecError.unsupportedSchemaVersion(parsed.schemaVersion, what: "image manifest", digest: digest) }
            } catch {
                throw RegistryHTTPError(.manifestInvalid, "invalid image manifest", detail: "\(error)")
            }
            children = [parsed.config] + parsed.layers
            subject = parsed.subject?.digest
        }
        for child in children {
            guard await content.has(child.digest), (try? await content.size(of: child.digest)) == child.size else {
                throw RegistryHTTPError(.manifestBlobUnknown, "\(child.digest) (\(child.mediaType), \(child.size) bytes) is not in the registry",
                                        detail: "push every blob (and, for an index, every manifest) before the manifest naming it")
            }
        }
        try await content.ingest(data: data, expecting: digest, size: Int64(data.count))
        if let tag {
            let target: ImageReference
            do { target = try ImageReference(parsing: "\(name):\(tag)") } catch {
                throw RegistryHTTPError(.nameInvalid, "\(name):\(tag) is not a valid image reference", detail: "\(error)")
            }
            try await images.tag(target, manifest: platformManifest, index: index)
            await uploads.forgetPushed(Set(children.map(\.digest)), repository: name)
        } else {
            // Kept for a push by tag that follows (an index's manifests come first).
            await uploads.recordPushed(digest, repository: name)
        }
        var headers: HTTPFields = [
            .location: "/v2/\(name)/manifests/\(digest)", .dockerContentDigest: digest.description, .contentLength: "0",
        ]
        if let subject { headers[.ociSubject] = subject.description }
        return Response(status: .created, headers: headers)
    }

    private func deleteManifest(_ name: String, reference: String) async throws -> Response {
        let all = RegistryRepositories(records: await images.list())
        guard let resolved = all.resolve(name) else {
            throw RegistryHTTPError(.nameUnknown, "repository \(name) is not known to this registry")
        }
        var removed: [ImageRecord] = []
        if reference.contains(":") {
            let digest = try Self.parseDigest(reference)
            for record in all.records(in: resolved) where record.manifest == digest || record.index == digest {
                removed.append(try await images.untag(record.reference))
            }
        } else if let record = all.record(resolved, tag: reference) {
            removed.append(try await images.untag(record.reference))
        }
        guard !removed.isEmpty else {
            throw RegistryHTTPError(.manifestUnknown, "repository \(name) has no manifest \(reference)")
        }
        return Response(status: .accepted, headers: [.contentLength: "0"])
    }

    private func deleteBlob(_ name: String, reference: String) async throws -> Response {
        let digest = try Self.parseDigest(reference)
        guard await content.has(digest) else { throw RegistryHTTPError(.blobUnknown, "blob \(digest) is not in the registry") }
        let used = try await GarbageCollector.reachable(from: await images.roots(), in: content)
        guard !used.contains(digest) else {
            throw RegistryHTTPError(.denied, "blob \(digest) is used by a tagged image", detail: "delete the manifests that use it first")
        }
        _ = try await content.delete(digest)
        return Response(status: .accepted, headers: [.contentLength: "0"])
    }
}

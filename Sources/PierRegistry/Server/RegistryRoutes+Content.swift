import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PierOCI

extension RegistryRoutes {
    // MARK: Manifests

    /// A manifest or index by tag or digest.
    ///
    /// A tag whose image came from an index serves the index, so clients pick their platform.
    /// When the client's `Accept` lists specific types that exclude the index's but include the
    /// manifest's, the platform manifest the store chose for the tag is served instead (as
    /// distribution does for clients that cannot read manifest lists). Otherwise the stored
    /// document is served whatever `Accept` says.
    func manifest(_ reference: String, in repository: Repository, request: Request) async throws -> Response {
        let digest: Digest
        if reference.contains(":") {
            do { digest = try Digest(parsing: reference) } catch {
                throw RegistryHTTPError(.digestInvalid, "\(reference) is not a valid digest", detail: error.description)
            }
            let justPushed = await uploads?.wasPushed(digest, repository: repository.name) ?? false
            let reachable = justPushed ? true : try await manifestDigests(of: repository).contains(digest)
            guard reachable else {
                throw RegistryHTTPError(.manifestUnknown, "manifest \(digest) is not in repository \(repository.name)")
            }
        } else {
            guard RepositoryName.isValidTag(reference), let record = repository.lookup(reference) else {
                throw RegistryHTTPError(.manifestUnknown, "repository \(repository.name) has no tag \"\(reference)\"",
                                        detail: "tags: \(repository.tags.prefix(20).joined(separator: ", "))")
            }
            digest = Self.negotiate(record, accept: request.headers[values: .accept])
        }
        let data: Data
        do { data = try await content.readDocument(digest) } catch ContentStoreError.notFound(_) {
            throw RegistryHTTPError(.manifestUnknown, "manifest \(digest) of \(repository.name) is missing from the store",
                                    detail: "re-import the image on the manager")
        }
        guard let mediaType = ManifestMediaType.detect(data) else {
            throw RegistryHTTPError(.manifestUnknown, "\(digest) in \(repository.name) is not a manifest or an index")
        }
        let headers: HTTPFields = [
            .contentType: mediaType,
            .contentLength: String(data.count),
            .dockerContentDigest: digest.description,
            .eTag: "\"\(digest)\"",
        ]
        if request.method == .head { return Response(status: .ok, headers: headers) }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Which document a tag serves for an `Accept` header (see `manifest(_:in:request:)`).
    static func negotiate(_ record: ImageRecord, accept: [String]) -> Digest {
        guard let index = record.index else { return record.manifest }
        let types = Set(accept.flatMap { $0.split(separator: ",") }.compactMap { item -> String? in
            let type = item.split(separator: ";").first.map { $0.trimmingASCIISpaces().lowercased() } ?? ""
            return type.isEmpty ? nil : type
        })
        if types.isEmpty || types.contains("*/*") || types.contains("application/*") { return index }
        if types.contains(MediaType.ociIndex) || types.contains(MediaType.dockerManifestList) { return index }
        if types.contains(MediaType.ociManifest) || types.contains(MediaType.dockerManifest) { return record.manifest }
        return index
    }

    /// The manifests and indexes a tag of the repository reaches.
    private func manifestDigests(of repository: Repository) async throws -> Set<Digest> {
        var digests = repository.roots
        var queue = Array(digests)
        while let digest = queue.popLast() {
            for child in try await GarbageCollector.children(of: digest, in: content)
            where MediaType.isManifest(child.mediaType) || MediaType.isIndex(child.mediaType) {
                if digests.insert(child.digest).inserted { queue.append(child.digest) }
            }
        }
        return digests
    }

    // MARK: Blobs

    /// A blob by digest, streamed from disk, whole or one byte range.
    func blob(_ reference: String, in repository: Repository, request: Request, context: Context) async throws -> Response {
        let digest: Digest
        do { digest = try Digest(parsing: reference) } catch {
            throw RegistryHTTPError(.digestInvalid, "\(reference) is not a valid digest", detail: error.description)
        }
        let reachable = try await GarbageCollector.reachable(from: repository.roots, in: content)
        let justPushed = await uploads?.wasPushed(digest, repository: repository.name) ?? false
        guard reachable.contains(digest) || justPushed, let size = try? await content.size(of: digest) else {
            throw RegistryHTTPError(.blobUnknown, "blob \(digest) is not in repository \(repository.name)")
        }
        var headers: HTTPFields = [
            .contentType: "application/octet-stream",
            .dockerContentDigest: digest.description,
            .acceptRanges: "bytes",
            .eTag: "\"\(digest)\"",
        ]
        let range: ByteRange?
        switch ByteRange.resolve(request.headers[.range], length: size) {
        case .whole:
            range = nil
        case .partial(let r):
            range = r
        case .unsatisfiable:
            throw RegistryHTTPError(
                .rangeInvalid, "range \(request.headers[.range] ?? "") is outside blob \(digest) of \(size) bytes",
                headers: [.contentRange: "bytes */\(size)"])
        }
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        if let range { headers[.contentRange] = range.contentRange(length: size) }
        headers[.contentLength] = String(range?.count ?? size)
        guard request.method != .head, size > 0 else { return Response(status: status, headers: headers) }
        let path = content.blobURL(for: digest).path
        let bytes = range.map { Int($0.first)...Int($0.last) } ?? 0...Int(size - 1)
        let body = try await FileIO().loadFile(path: path, range: bytes, context: context)
        return Response(status: status, headers: headers, body: body)
    }
}

extension RegistryRoutes {
    // MARK: Referrers

    /// The referrers API (distribution-spec v1.1): an image index of the manifests of the
    /// repository whose `subject` is `reference` (signatures, SBOMs, …), filtered by
    /// `artifactType` when asked. Empty, not an error, when there are none.
    func referrers(_ reference: String, in repository: Repository, request: Request) async throws -> Response {
        let subject: Digest
        do { subject = try Digest(parsing: reference) } catch {
            throw RegistryHTTPError(.digestInvalid, "\(reference) is not a valid digest", detail: error.description)
        }
        let filter = request.uri.queryParameters["artifactType"].map(String.init)
        var found: [Descriptor] = []
        var seen = Set<Digest>()
        for record in repository.records where seen.insert(record.manifest).inserted {
            guard let data = try? await content.readDocument(record.manifest),
                  let document = try? JSONDecoder().decode(ReferrerDocument.self, from: data), document.subject?.digest == subject else { continue }
            let type = document.artifactType ?? document.config?.mediaType
            if let filter, type != filter { continue }
            var descriptor = Descriptor(mediaType: document.mediaType ?? MediaType.ociManifest, digest: record.manifest, size: Int64(data.count))
            descriptor.artifactType = type
            descriptor.annotations = document.annotations
            found.append(descriptor)
        }
        let index = ImageIndex(manifests: found.sorted { $0.digest.description < $1.digest.description })
        var headers: HTTPFields = [.contentType: MediaType.ociIndex]
        if filter != nil { headers[.ociFiltersApplied] = "artifactType" }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: try index.encoded())))
    }
}

/// The fields of a manifest the referrers API reports.
private struct ReferrerDocument: Decodable {
    var mediaType: String?
    var artifactType: String?
    var config: Descriptor?
    var subject: Descriptor?
    var annotations: [String: String]?
}

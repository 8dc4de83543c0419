import AsyncHTTPClient
import Foundation
import NIOCore
import PierAPI
import PierOCI

/// Image endpoints of docs/agent-api.md. `ref` is a name[:tag], a digest or a unique digest prefix.
extension AgentClient {
    /// `GET /v1/images`.
    public func listImages() async throws -> [ImageSummary] {
        try await decode([ImageSummary].self, .GET, "/v1/images")
    }

    /// `GET /v1/images/{ref}`.
    public func inspectImage(_ ref: String) async throws -> ImageDetails {
        try await decode(ImageDetails.self, .GET, "/v1/images/" + Self.segment(ref))
    }

    /// `GET /v1/images/{ref}/manifest`: the manifest exactly as stored (its digest is the image id).
    public func imageManifest(_ ref: String) async throws -> Data {
        try await bytes(.GET, "/v1/images/\(Self.segment(ref))/manifest")
    }

    /// `GET /v1/images/{ref}/config`: the image config exactly as stored.
    public func imageConfig(_ ref: String) async throws -> Data {
        try await bytes(.GET, "/v1/images/\(Self.segment(ref))/config")
    }

    /// `POST /v1/images/import[?tag=NAME]`: streams an archive or a layout (as tar) to the agent,
    /// never holding it in memory.
    public func importImage(from source: ImageArchiveSource, tag: String?) async throws -> [ImportedImage] {
        let body: HTTPClientRequest.Body
        switch source {
        case .file(let path):
            let size: Int64
            do {
                let attributes = try FileManager.default.attributesOfItem(atPath: path)
                size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
            } catch {
                throw ClientError.file(path: path, reason: "cannot read it: \(error.localizedDescription)")
            }
            _ = try FileChunkReader(path: path)  // Fail here, before connecting, when it cannot be read.
            body = .stream(ChunkUpload { try FileChunkReader(path: path) }, length: .known(size))
        case .directory(let path):
            let size = try DirectoryTarReader(directory: path).totalSize
            body = .stream(ChunkUpload { try DirectoryTarReader(directory: path) }, length: .known(size))
        }
        return try await decode([ImportedImage].self, .POST, "/v1/images/import",
                                query: tag.map { [("tag", $0)] } ?? [],
                                body: .stream(body, contentType: "application/x-tar"))
    }

    /// `GET /v1/images/{ref}/export`: writes the oci-archive to `path` through `path.tmp`, renamed
    /// into place only when complete.
    public func exportImage(_ ref: String, to path: String) async throws {
        let requestPath = "/v1/images/\(Self.segment(ref))/export"
        let response = try await send(.GET, requestPath)
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporary) else {
            throw ClientError.file(path: temporary, reason: "cannot create it (does the directory exist, and may you write there?)")
        }
        do {
            var chunks = response.body.makeAsyncIterator()
            while true {
                let chunk: ByteBuffer?
                do {
                    chunk = try await chunks.next()
                } catch {
                    throw mapTransportError(error, request: "GET " + requestPath)
                }
                guard let chunk else { break }
                do {
                    try handle.write(contentsOf: Data(chunk.readableBytesView))
                } catch {
                    throw ClientError.file(path: temporary, reason: "write failed: \(error.localizedDescription)")
                }
            }
            do {
                try handle.synchronize()
                try handle.close()
            } catch {
                throw ClientError.file(path: temporary, reason: "could not flush it to disk: \(error.localizedDescription)")
            }
            if rename(temporary, path) != 0 {
                throw ClientError.file(path: path, reason: "cannot rename \(temporary) into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? handle.close()
            unlink(temporary)
            throw error
        }
    }

    /// `POST /v1/images/{ref}/tag?name=NEW`.
    public func tagImage(_ ref: String, as name: String) async throws {
        try await perform(.POST, "/v1/images/\(Self.segment(ref))/tag", query: [("name", name)])
    }

    /// `DELETE /v1/images/{ref}[?force=1]`.
    public func removeImage(_ ref: String, force: Bool) async throws {
        try await perform(.DELETE, "/v1/images/" + Self.segment(ref), query: force ? [("force", "1")] : [])
    }

    /// `POST /v1/images/pull`: the daemon pulls an image from a registry into its store.
    public func pullImage(_ request: RegistryTransferRequest) async throws -> RegistryTransferResult {
        try await decode(RegistryTransferResult.self, .POST, "/v1/images/pull", body: Self.json(request))
    }

    /// `POST /v1/images/pull?progress=1`: the same, with the daemon's per-layer progress lines
    /// written to `progress` as they come.
    public func pullImage(_ request: RegistryTransferRequest, progress: some StreamOutput) async throws -> RegistryTransferResult {
        let response = try await send(.POST, "/v1/images/pull", query: [("progress", "1")], body: Self.json(request))
        let capture = CapturedStdout(passing: progress)
        _ = try await AttachedStream(response: response, request: "POST /v1/images/pull").pump(into: capture)
        do { return try JSONDecoder().decode(RegistryTransferResult.self, from: Data(capture.stdout)) } catch {
            throw ClientError.streamEndedEarly(request: "POST /v1/images/pull")
        }
    }

    /// `POST /v1/images/push`: the daemon pushes a stored image to a registry.
    public func pushImage(_ request: RegistryTransferRequest) async throws -> RegistryTransferResult {
        try await decode(RegistryTransferResult.self, .POST, "/v1/images/push", body: Self.json(request))
    }

    /// `POST /v1/images/du`: what installing `images`, or updating to them from `from`, downloads.
    public func downloadAnalysis(_ request: DownloadAnalysisRequest) async throws -> DownloadAnalysis {
        try await decode(DownloadAnalysis.self, .POST, "/v1/images/du", body: Self.json(request))
    }

    /// `GET /v1/images/{ref}/signatures`.
    public func imageSignatures(_ ref: String) async throws -> [SignatureBlob] {
        try await decode([SignatureBlob].self, .GET, "/v1/images/\(Self.segment(ref))/signatures")
    }

    /// `POST /v1/images/{ref}/signatures`: stores a signature made by the client (the private
    /// key never leaves the client).
    public func addImageSignature(_ ref: String, _ signature: SignatureBlob) async throws -> SignatureStored {
        try await decode(SignatureStored.self, .POST, "/v1/images/\(Self.segment(ref))/signatures", body: Self.json(signature))
    }

    /// `POST /v1/images/prune`: removes unreferenced blobs and unpacked layers.
    public func pruneImages() async throws -> PruneReport {
        try await decode(PruneReport.self, .POST, "/v1/images/prune")
    }
}

/// Keeps stdout frames (a result document) and passes stderr frames (progress) on.
final class CapturedStdout: StreamOutput, @unchecked Sendable {
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    let passing: any StreamOutput
    init(passing: some StreamOutput) { self.passing = passing }
    var stdout: [UInt8] { lock.lock(); defer { lock.unlock() }; return buffer }
    func writeStdout(_ bytes: [UInt8]) { lock.lock(); buffer += bytes; lock.unlock() }
    func writeStderr(_ bytes: [UInt8]) { passing.writeStderr(bytes) }
}

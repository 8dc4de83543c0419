import Foundation
import PierOCI
#if canImport(Glibc)
import Glibc
#endif

/// Writes an image as an oci-archive: a tar of an OCI image layout (`oci-layout`,
/// `index.json` naming the image, `blobs/sha256/…`), as `skopeo copy oci-archive:…` reads it.
/// The archive is deterministic (fixed order, times, owners and modes) and appears at its path
/// only when complete (written to a temporary file, fsynced, renamed).
public struct ImageExporter: Sendable {
    public let content: any ContentStore

    public init(content: any ContentStore) { self.content = content }

    /// Exports the image whose manifest is `manifest`, named `reference` in `index.json`, to `destination`.
    public func export(manifest: Digest, reference: ImageReference?, to destination: URL) async throws {
        let manifestData = try await content.readDocument(manifest)
        let parsed = try ImageManifest.decode(manifestData, digest: manifest)
        let configData = try await content.readDocument(parsed.config.digest)
        let config = try ImageConfig.decode(configData, digest: parsed.config.digest)

        var descriptor = Descriptor(mediaType: parsed.mediaType ?? MediaType.ociManifest, digest: manifest,
                                    size: Int64(manifestData.count))
        descriptor.platform = config.platform
        if let reference { descriptor.annotations = OCILayoutNames.annotations(for: reference) }
        let indexData = try ImageIndex(manifests: [descriptor]).encoded()
        let layoutData = try SpecJSON.encode(OCILayoutHeader())

        var blobs: [Digest: URL] = [:]
        for digest in [manifest, parsed.config.digest] + parsed.layers.map(\.digest) {
            blobs[digest] = try await content.path(for: digest)
        }
        let sortedBlobs = blobs.sorted { $0.key.encoded < $1.key.encoded }
        try await BlockingIO.run {
            try Self.writeArchive(to: destination) { writer in
                try writer.add(TarHeader(path: "oci-layout", kind: .file(size: Int64(layoutData.count)), mode: 0o644), data: layoutData)
                try writer.add(TarHeader(path: "index.json", kind: .file(size: Int64(indexData.count)), mode: 0o644), data: indexData)
                try writer.add(TarHeader(path: "blobs", kind: .directory, mode: 0o755))
                try writer.add(TarHeader(path: "blobs/sha256", kind: .directory, mode: 0o755))
                for (digest, url) in sortedBlobs {
                    var st = stat()
                    guard stat(url.path, &st) == 0 else { throw ContentStoreError.notFound(digest) }
                    try writer.add(TarHeader(path: "blobs/sha256/\(digest.encoded)", kind: .file(size: Int64(st.st_size)), mode: 0o644), source: url)
                }
            }
        }
    }

    /// Writes a tar file atomically: `body` adds the entries to a temporary file beside
    /// `destination`, which is fsynced and renamed into place.
    static func writeArchive(to destination: URL, _ body: (TarWriter) throws -> Void) throws {
        let temp = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).tmp-\(AtomicFile.randomSuffix())")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ExportError.io("cannot create \(temp.path): \(String(cString: strerror(errno)))") }
        do {
            let writer = try TarWriter(fd: fd, gzip: false)
            try body(writer)
            _ = try writer.finish()
            guard fsync(fd) == 0 else { throw ExportError.io("fsync \(temp.path): \(String(cString: strerror(errno)))") }
            close(fd)
            guard rename(temp.path, destination.path) == 0 else {
                throw ExportError.io("cannot rename to \(destination.path): \(String(cString: strerror(errno)))")
            }
        } catch {
            close(fd)
            unlink(temp.path)
            throw error
        }
    }
}

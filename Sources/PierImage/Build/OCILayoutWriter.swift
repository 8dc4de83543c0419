import Foundation
import PierOCI
#if canImport(Glibc)
import Glibc
#endif

/// Writes an OCI image layout directory (OCI image-spec v1.1, `image-layout.md`):
/// `oci-layout`, `index.json`, `blobs/sha256/<hex>`.
final class OCILayoutWriter {
    let root: URL
    let blobs: URL

    /// Creates the layout directory, which must not exist.
    init(creating root: URL) throws {
        self.root = root
        self.blobs = root.appendingPathComponent("blobs/sha256", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: false)
            try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
            try SpecJSON.encode(OCILayoutHeader()).write(to: root.appendingPathComponent("oci-layout"))
        } catch {
            throw ImageBuildError.io("cannot create the layout \(root.path): \(error.localizedDescription)")
        }
    }

    /// Writes a blob; returns its descriptor.
    func addBlob(_ data: Data, mediaType: String) throws -> Descriptor {
        let digest = Digest.sha256(of: data)
        do { try data.write(to: blobs.appendingPathComponent(digest.encoded)) } catch {
            throw ImageBuildError.io("cannot write blob \(digest): \(error.localizedDescription)")
        }
        return Descriptor(mediaType: mediaType, digest: digest, size: Int64(data.count))
    }

    /// Writes a gzip-compressed layer produced by `body`; returns its descriptor and diff id.
    func addLayer(_ body: (TarWriter) throws -> Void) throws -> (Descriptor, Digest) {
        let temp = blobs.appendingPathComponent(".layer-\(AtomicFile.randomSuffix())")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ImageBuildError.io("cannot create \(temp.path): \(String(cString: strerror(errno)))") }
        do {
            let writer = try TarWriter(fd: fd, gzip: true)
            try body(writer)
            let sums = try writer.finish()
            close(fd)
            let target = blobs.appendingPathComponent(sums.digest.encoded)
            guard rename(temp.path, target.path) == 0 else {
                throw ImageBuildError.io("cannot write blob \(sums.digest): \(String(cString: strerror(errno)))")
            }
            return (Descriptor(mediaType: MediaType.ociLayerTarGzip, digest: sums.digest, size: sums.size), sums.diffID)
        } catch {
            close(fd)
            unlink(temp.path)
            throw error
        }
    }

    /// Writes `index.json` naming each manifest by its reference.
    func writeIndex(_ manifests: [(Descriptor, ImageReference?)]) throws {
        let index = ImageIndex(manifests: manifests.map { descriptor, reference in
            var d = descriptor
            if let reference { d.annotations = OCILayoutNames.annotations(for: reference) }
            return d
        })
        do { try index.encoded().write(to: root.appendingPathComponent("index.json")) } catch {
            throw ImageBuildError.io("cannot write index.json: \(error.localizedDescription)")
        }
    }
}

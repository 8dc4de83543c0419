import Foundation
import PierImage
import PierOCI

#if canImport(Glibc)
import Glibc
#endif

/// Layer blobs: the bytes are written to a scratch file and unpacked as a layer, with the
/// unpacker's checks on entry paths, links and whiteouts, under limits small enough that a
/// decompression bomb stops at once. The scratch directory is on tmpfs when there is one, and
/// emptied after every input.
enum FuzzTar {
    static let scratch: URL? = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("pier-fuzz-tar-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        guard (try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)) != nil else { return nil }
        return url
    }()

    static func run(_ bytes: [UInt8]) -> String? {
        guard let scratch else { return "no scratch directory for layers" }
        let blob = scratch.appendingPathComponent("blob")
        let destination = scratch.appendingPathComponent("layer")
        defer {
            try? FileManager.default.removeItem(at: destination)
            try? FileManager.default.removeItem(at: blob)
        }
        guard FileManager.default.createFile(atPath: blob.path, contents: Data(bytes)) else { return "cannot write \(blob.path)" }
        let digest = Digest.sha256(of: bytes)
        let layer = Descriptor(mediaType: MediaType.ociLayerTar, digest: digest, size: Int64(bytes.count))
        let unpacker = LayerUnpacker(configuration: .init(maxBytes: 1 << 20, maxEntries: 256, preserveOwnership: false))
        guard let result = try? unpacker.unpack(blob: blob, layer: layer, diffID: nil, into: destination) else {
            // Refused: nothing of it may be left beside the destination.
            let left = (try? FileManager.default.contentsOfDirectory(atPath: scratch.path)) ?? []
            let stray = left.filter { $0 != "blob" }
            return stray.isEmpty ? nil : "a refused layer left \(stray) behind"
        }
        if result.entries > 256 { return "\(result.entries) entries unpacked; the limit is 256" }
        if result.tarSize > 1 << 20 { return "\(result.tarSize) tar bytes read; the limit is \(1 << 20)" }
        return escapes(destination)
    }

    /// A symbolic link in the unpacked tree whose target leaves it (relative, through `..`).
    private static func escapes(_ root: URL) -> String? {
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return nil }
        while let relative = walker.nextObject() as? String {
            let path = root.path + "/" + relative
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path), !target.hasPrefix("/") else { continue }
            var depth = relative.split(separator: "/").count - 1
            for part in target.split(separator: "/") where part != "." {
                depth += part == ".." ? -1 : 1
                if depth < 0 { return "the symlink \(relative) → \(target) leaves the layer" }
            }
        }
        return nil
    }
}

import CArchive
import Foundation
import PierOCI
#if canImport(Glibc)
import Glibc
#endif

/// Unpacks one layer blob (tar, tar+gzip or tar+zstd, detected from the content) into a
/// directory that overlayfs can use as a lower dir.
///
/// The layer is extracted into a temporary directory beside the destination, which is renamed
/// into place only when every entry was written, the blob hashes to its digest and the tar
/// stream hashes to the expected diff id. Hostile entries (`..`, absolute names, paths through
/// symlinks, hard links out of the layer, symlinks climbing above the root, device nodes) stop
/// the unpack with `UnpackError.refused`. OCI whiteouts become overlayfs whiteouts.
public struct LayerUnpacker: Sendable {
    /// Limits that stop decompression bombs.
    public struct Configuration: Sendable {
        /// Most bytes of the decompressed tar stream, and most bytes of file content.
        public var maxBytes: Int64
        /// Most entries in one layer.
        public var maxEntries: Int
        /// Apply the owners recorded in the layer (needs root). When false, files belong to the caller.
        public var preserveOwnership: Bool

        public init(maxBytes: Int64 = 16 << 30, maxEntries: Int = 1_000_000, preserveOwnership: Bool = getuid() == 0) {
            self.maxBytes = maxBytes; self.maxEntries = maxEntries; self.preserveOwnership = preserveOwnership
        }
    }

    /// What an unpack found.
    public struct Result: Sendable, Hashable {
        public var diffID: Digest
        public var blobSize: Int64
        public var tarSize: Int64
        public var entries: Int
    }

    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Unpacks the blob at `blob`, which must hash to `layer.digest`, into `destination` (which
    /// must not exist). When `diffID` is given the tar stream must hash to it.
    @discardableResult
    public func unpack(blob: URL, layer: Descriptor, diffID: Digest?, into destination: URL) throws(UnpackError) -> Result {
        let parent = destination.deletingLastPathComponent()
        let temp = parent.appendingPathComponent(".tmp-unpack-\(AtomicFile.randomSuffix())")
        // chmod after mkdir: the daemon's umask (077) must not reach what containers see.
        guard mkdir(temp.path, 0o755) == 0, chmod(temp.path, 0o755) == 0 else {
            throw .io(layer: layer.digest, entry: "", message: "cannot create \(temp.path): \(String(cString: strerror(errno)))")
        }
        do throws(UnpackError) {
            let result = try extract(blob: blob, layer: layer, diffID: diffID, into: temp)
            guard rename(temp.path, destination.path) == 0 else {
                let code = errno
                if code == EEXIST || code == ENOTEMPTY {
                    // Someone else unpacked the same layer first; theirs is as good as ours.
                    Self.removeTree(temp)
                    return result
                }
                throw .io(layer: layer.digest, entry: "", message: "cannot rename into \(destination.path): \(String(cString: strerror(code)))")
            }
            try? AtomicFile.syncDirectory(parent)
            return result
        } catch {
            Self.removeTree(temp)
            throw error
        }
    }

    /// Removes a directory tree without following symbolic links.
    static func removeTree(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
    }

    private func extract(blob: URL, layer: Descriptor, diffID: Digest?, into root: URL) throws(UnpackError) -> Result {
        let digest = layer.digest
        let reader: TarStreamReader
        let tree: DirectoryHandle
        do {
            reader = try TarStreamReader(file: blob, maxTarBytes: configuration.maxBytes)
            tree = try DirectoryHandle(path: root.path)
        } catch {
            throw .io(layer: digest, entry: "", message: "\(error)")
        }
        var extractor = EntryExtractor(layer: digest, tree: tree, reader: reader, configuration: configuration)
        do {
            try reader.start()
            while let entry = try reader.nextEntry() {
                try extractor.apply(entry)
            }
            try extractor.finishDirectories()
        } catch let error as UnpackError {
            throw error
        } catch let stop as TarStreamReader.Stop {
            throw Self.map(stop, layer: digest)
        } catch {
            throw .corrupt(layer: digest, message: "\(error)")
        }
        let sums: (blob: Digest, blobSize: Int64, diffID: Digest, tarSize: Int64)
        do { sums = try reader.finish() } catch let stop as TarStreamReader.Stop {
            throw Self.map(stop, layer: digest)
        } catch {
            throw .corrupt(layer: digest, message: "\(error)")
        }
        guard sums.blob == digest else { throw .digestMismatch(layer: digest, actual: sums.blob) }
        if let diffID, sums.diffID != diffID {
            throw .diffIDMismatch(layer: digest, expected: diffID, actual: sums.diffID)
        }
        // One syncfs makes the whole tree durable before the rename publishes it.
        syncfs(tree.rootFD)
        return Result(diffID: sums.diffID, blobSize: sums.blobSize, tarSize: sums.tarSize, entries: extractor.entries)
    }

    private static func map(_ stop: TarStreamReader.Stop, layer: Digest) -> UnpackError {
        switch stop {
        case .limit(let limit): .limitExceeded(layer: layer, what: "bytes", limit: limit)
        case .io(let message): .corrupt(layer: layer, message: message)
        }
    }
}

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
    /// Limits that stop decompression bombs, sparse-file bombs and hostile headers. Crossing
    /// one stops the unpack with `UnpackError.limitExceeded`, naming the limit and the value.
    public struct Configuration: Sendable {
        /// Most bytes of the decompressed tar stream, and most bytes of file content (sparse
        /// files count their apparent size).
        public var maxBytes: Int64
        /// The byte limit is also at most this share of the space free on the layer store's
        /// file system when the unpack starts; 0 leaves only `maxBytes`.
        public var freeSpaceFraction: Double
        /// Most entries in one layer.
        public var maxEntries: Int
        /// Most decompressed bytes per compressed byte, checked once `ratioFloor` bytes came out; 0 checks nothing.
        public var maxRatio: Int64
        /// Decompressed bytes below which the ratio is not checked (small layers of zeros are fine).
        public var ratioFloor: Int64
        /// Longest entry name or link target, in bytes (PATH_MAX is 4096).
        public var maxNameBytes: Int
        /// Most bytes of extended attributes (names and values) on one entry.
        public var maxXattrBytes: Int
        /// Apply the owners recorded in the layer (needs root). When false, files belong to the caller.
        public var preserveOwnership: Bool

        public init(
            maxBytes: Int64 = 16 << 30, freeSpaceFraction: Double = 0.5, maxEntries: Int = 1_000_000,
            maxRatio: Int64 = 100, ratioFloor: Int64 = 64 << 20, maxNameBytes: Int = 4096, maxXattrBytes: Int = 1 << 20,
            preserveOwnership: Bool = getuid() == 0
        ) {
            self.maxBytes = maxBytes; self.freeSpaceFraction = freeSpaceFraction; self.maxEntries = maxEntries
            self.maxRatio = maxRatio; self.ratioFloor = ratioFloor; self.maxNameBytes = maxNameBytes
            self.maxXattrBytes = maxXattrBytes; self.preserveOwnership = preserveOwnership
        }

        /// The byte limit for an unpack into `directory`: `maxBytes`, or less when the file
        /// system holds less than that in `freeSpaceFraction` of its free space.
        public func byteLimit(forUnpackingIn directory: URL) -> Int64 {
            guard freeSpaceFraction > 0, let free = FreeSpace.bytes(at: directory) else { return maxBytes }
            let share = Double(free) * min(freeSpaceFraction, 1)
            return share >= Double(maxBytes) ? maxBytes : max(0, Int64(share))
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
        let maxBytes = configuration.byteLimit(forUnpackingIn: root)
        let limits = TarStreamReader.Limits(maxTarBytes: maxBytes, maxRatio: configuration.maxRatio, ratioFloor: configuration.ratioFloor)
        do {
            reader = try TarStreamReader(file: blob, limits: limits)
            tree = try DirectoryHandle(path: root.path)
        } catch {
            throw .io(layer: digest, entry: "", message: "\(error)")
        }
        var extractor = EntryExtractor(layer: digest, tree: tree, reader: reader, configuration: configuration, maxBytes: maxBytes)
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
        case .limit(let what, let limit, let value): .limitExceeded(layer: layer, what: what, limit: limit, value: value)
        case .io(let message): .corrupt(layer: layer, message: message)
        }
    }
}

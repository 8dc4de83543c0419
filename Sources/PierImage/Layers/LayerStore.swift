import Foundation
import PierOCI
#if canImport(Glibc)
import Glibc
#endif

/// Unpacked layers, each diff id unpacked once at `<root>/layers/<diff id hex>/` and shared by
/// every image that uses it (they are overlayfs lower dirs, never written to).
///
/// A layer appears under its final name only when it was unpacked completely and verified
/// (see `LayerUnpacker`); temporary directories left by a killed process are removed on open.
public actor LayerStore {
    /// `<root>/layers`.
    public nonisolated let directory: URL
    private let content: any ContentStore
    private let unpacker: LayerUnpacker
    private var inFlight: [Digest: Task<URL, any Error>] = [:]

    /// Opens the store under `root`, reading blobs from `content`.
    public init(root: URL, content: any ContentStore, unpacker: LayerUnpacker = LayerUnpacker()) throws {
        self.directory = root.appendingPathComponent("layers", isDirectory: true)
        self.content = content
        self.unpacker = unpacker
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw LayerStoreError.io("cannot create \(directory.path): \(error.localizedDescription)")
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where name.hasPrefix(".tmp-") {
            LayerUnpacker.removeTree(directory.appendingPathComponent(name))
        }
    }

    /// Where the layer with `diffID` is (or would be) unpacked.
    public nonisolated func path(for diffID: Digest) -> URL {
        directory.appendingPathComponent(diffID.encoded, isDirectory: true)
    }

    /// Whether the layer is unpacked.
    public nonisolated func isUnpacked(_ diffID: Digest) -> Bool {
        var st = stat()
        return lstat(path(for: diffID).path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Unpacks the layer unless it already is, and returns its directory. Concurrent calls for
    /// the same diff id share one unpack.
    public func ensureUnpacked(layer: Descriptor, diffID: Digest) async throws -> URL {
        let destination = path(for: diffID)
        if isUnpacked(diffID) { return destination }
        if let running = inFlight[diffID] { return try await running.value }
        guard MediaType.isLayer(layer.mediaType) else {
            throw LayerStoreError.notALayer(layer.digest, layer.mediaType)
        }
        let unpacker = self.unpacker
        let content = self.content
        let task = Task<URL, any Error> {
            let blob = try await content.path(for: layer.digest)
            try await BlockingIO.run {
                try unpacker.unpack(blob: blob, layer: layer, diffID: diffID, into: destination)
            }
            return destination
        }
        inFlight[diffID] = task
        defer { inFlight[diffID] = nil }
        return try await task.value
    }

    /// Every unpacked diff id.
    public func all() -> [Digest] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { try? Digest(sha256Hex: $0) }.sorted()
    }

    /// Removes an unpacked layer; returns the bytes it took. It first disappears under its name
    /// (rename), so a crash midway leaves only a temporary directory that the next open removes.
    @discardableResult
    public func remove(_ diffID: Digest) throws -> Int64 {
        guard inFlight[diffID] == nil else { throw LayerStoreError.busy(diffID) }
        let source = path(for: diffID)
        guard isUnpacked(diffID) else { return 0 }
        let bytes = DiskUsage.bytes(of: source)
        let doomed = directory.appendingPathComponent(".tmp-remove-\(AtomicFile.randomSuffix())")
        guard rename(source.path, doomed.path) == 0 else {
            throw LayerStoreError.io("cannot remove \(source.path): \(String(cString: strerror(errno)))")
        }
        LayerUnpacker.removeTree(doomed)
        return bytes
    }

    /// Removes every unpacked layer not in `keep`; returns what was removed and the bytes freed.
    public func collectGarbage(keeping keep: Set<Digest>) throws -> (removed: [Digest], bytes: Int64) {
        var removed: [Digest] = []
        var bytes: Int64 = 0
        for diffID in all() where !keep.contains(diffID) && inFlight[diffID] == nil {
            bytes += try remove(diffID)
            removed.append(diffID)
        }
        return (removed, bytes)
    }

    /// Bytes one unpacked layer takes on disk.
    public nonisolated func bytesOnDisk(_ diffID: Digest) -> Int64 {
        isUnpacked(diffID) ? DiskUsage.bytes(of: path(for: diffID)) : 0
    }

    /// Bytes all unpacked layers take on disk.
    public func totalBytes() -> Int64 {
        all().reduce(0) { $0 + bytesOnDisk($1) }
    }
}

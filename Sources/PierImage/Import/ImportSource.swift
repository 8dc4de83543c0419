import CArchive
import Foundation
import PierOCI
#if canImport(Glibc)
import Glibc
#endif

/// The files of an archive or layout being imported. For a tar every regular file was read
/// once, streamed into the content store (verified against its name under `blobs/sha256/`, or
/// hashed for docker-archive files); small metadata files are kept in memory.
struct ImportSource: Sendable {
    /// `index.json`, `manifest.json`, configs and other small JSON files, by normalized path.
    var files: [String: Data] = [:]
    /// Other files, stored as blobs: path → digest and size.
    var pathBlobs: [String: IngestResult] = [:]
    /// Symlinks and hard links: path → normalized target path.
    var links: [String: String] = [:]
    /// Blobs found under `blobs/sha256/`.
    var layoutBlobs: Set<Digest> = []
    /// Blobs the content store did not have before.
    var added: [Digest] = []
    /// Nested indexes kept because an imported image came through them.
    var indexesKept: Set<Digest> = []
    /// For a directory source: where it is, so blobs are ingested only when referenced.
    var directory: URL?

    static let metadataLimit = 4 << 20
    /// All metadata files together; an archive of a million small JSON files is refused.
    static let totalMetadataLimit = 64 << 20
    private var metadataBytes = 0

    /// Normalizes `./a//b` to `a/b`; nil for names with `..` or nothing left.
    static func normalize(_ path: String) -> String? {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { return nil }
            parts.append(part)
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    /// Where a symlink at `path` points, as a normalized archive path; `..` climbs within the
    /// archive and never above it.
    static func linkTarget(_ target: String, from path: String) -> String? {
        var parts: [Substring] = target.hasPrefix("/") ? [] : path.split(separator: "/").dropLast()
        for part in target.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    /// Follows links recorded in the archive (at most 16 hops).
    func resolve(_ path: String) -> String {
        var current = path
        for _ in 0..<16 {
            guard let next = links[current] else { return current }
            current = next
        }
        return current
    }

    /// Whether a file belongs in memory rather than in the content store.
    static func isMetadata(_ path: String, size: Int64) -> Bool {
        guard size <= Int64(metadataLimit), !path.hasPrefix("blobs/") else { return false }
        let name = (path as NSString).lastPathComponent
        return name.hasSuffix(".json") || name == "json" || name == "VERSION" || name == "repositories" || name == "oci-layout"
    }

    /// A blob under `blobs/sha256/<hex>`, or nil for any other path.
    static func layoutBlobDigest(_ path: String) throws(ImportError) -> Digest? {
        let parts = path.split(separator: "/")
        guard parts.count == 3, parts[0] == "blobs" else { return nil }
        guard parts[1] == "sha256" else {
            throw .invalidDocument("blob \(path) uses the digest algorithm \(parts[1]); only sha256 is supported")
        }
        do { return try Digest(sha256Hex: String(parts[2])) } catch {
            throw .invalidDocument("blob file \(path) is not named by a sha256 digest")
        }
    }

    // MARK: Reading a tar

    /// Streams a tar (plain, gzip or zstd) into the content store. On failure the blobs it
    /// added are removed again.
    /// `limits` bound the archive as they bound one layer: its decompressed bytes (at most a
    /// share of the store's free space), entries and compression ratio.
    static func scanTar(_ url: URL, into store: LocalContentStore, limits: LayerUnpacker.Configuration = .init()) throws -> ImportSource {
        var source = ImportSource()
        do {
            try source.readTar(url, store: store, limits: limits)
            return source
        } catch {
            for digest in source.added { unlink(store.blobURL(for: digest).path) }
            throw error
        }
    }

    private mutating func readTar(_ url: URL, store: LocalContentStore, limits: LayerUnpacker.Configuration) throws {
        let maxBytes = limits.byteLimit(forUnpackingIn: store.root)
        let reader = try TarStreamReader(
            file: url, limits: .init(maxTarBytes: maxBytes, maxRatio: limits.maxRatio, ratioFloor: limits.ratioFloor))
        func corrupt(_ error: any Error) -> ImportError {
            if let e = error as? ImportError { return e }
            switch error as? TarStreamReader.Stop {
            case .io(let message): return .corruptArchive(url.path, message: message)
            case .limit(let what, let limit, let value): return .limitExceeded(url.path, what: what, limit: limit, value: value)
            case nil: return .corruptArchive(url.path, message: "\(error)")
            }
        }
        do { try reader.start() } catch { throw corrupt(error) }
        var entries = 0
        var declared: Int64 = 0
        while true {
            let entry: OpaquePointer
            do {
                guard let next = try reader.nextEntry() else { break }
                entry = next
            } catch { throw corrupt(error) }
            entries += 1
            guard entries <= limits.maxEntries else {
                throw ImportError.limitExceeded(url.path, what: "entries", limit: Int64(limits.maxEntries), value: Int64(entries))
            }
            guard let rawName = archive_entry_pathname(entry), let path = Self.normalize(String(cString: rawName)) else { continue }
            guard path.utf8.count <= limits.maxNameBytes else {
                throw ImportError.limitExceeded(url.path, what: "bytes in one name", limit: Int64(limits.maxNameBytes), value: Int64(path.utf8.count))
            }
            if let target = archive_entry_hardlink(entry) {
                if let t = Self.normalize(String(cString: target)) { links[path] = t }
                continue
            }
            let type = archive_entry_filetype(entry)
            if type == S_IFLNK {
                if let target = archive_entry_symlink(entry) {
                    if let t = Self.linkTarget(String(cString: target), from: path) { links[path] = t }
                }
                continue
            }
            guard type == S_IFREG else { continue }
            let size = archive_entry_size(entry)
            // Apparent sizes count: a sparse entry becomes a blob of its full size.
            let (sum, overflow) = declared.addingReportingOverflow(max(size, 0))
            declared = overflow ? .max : sum
            guard declared <= maxBytes else {
                throw ImportError.limitExceeded(url.path, what: "bytes", limit: maxBytes, value: declared)
            }
            if Self.isMetadata(path, size: size) {
                var data = Data()
                data.reserveCapacity(Int(size))
                do { try reader.readData { block, _ in data.append(contentsOf: block) } } catch { throw corrupt(error) }
                metadataBytes += data.count
                guard metadataBytes <= Self.totalMetadataLimit else {
                    throw ImportError.invalidDocument("the archive holds more than \(Self.totalMetadataLimit) bytes of metadata files")
                }
                files[path] = data
                continue
            }
            let expected = try Self.layoutBlobDigest(path)
            let writer = try store.makeWriter()
            do {
                try reader.readData { block, offset in
                    guard offset >= writer.count, offset <= size, Int64(block.count) <= size - offset else {
                        throw ImportError.corruptArchive(url.path, message: "entry \(path) has data at offset \(offset) outside its \(size) bytes")
                    }
                    // A sparse hole: the blob's bytes are zeros there.
                    try Self.writeZeros(offset - writer.count, to: writer)
                    try writer.write(block)
                }
                if writer.count < size { try Self.writeZeros(size - writer.count, to: writer) }
            } catch {
                writer.discard()
                throw corrupt(error)
            }
            let result: IngestResult
            do { result = try writer.commit(expecting: expected, size: nil) } catch let error as ContentStoreError {
                if case .digestMismatch(let e, let actual) = error {
                    throw ImportError.blobDoesNotVerify(e, "its content hashes to \(actual)")
                }
                throw ImportError.io(error.description)
            }
            if result.isNew { added.append(result.digest) }
            if let expected { layoutBlobs.insert(expected) } else { pathBlobs[path] = result }
        }
        do { _ = try reader.finish() } catch { throw corrupt(error) }
    }

    /// Appends `count` zero bytes, a bounded buffer at a time.
    private static func writeZeros(_ count: Int64, to writer: ContentWriter) throws {
        let chunk = Data(count: 1 << 20)
        var left = count
        while left > 0 {
            let n = Int(min(left, Int64(chunk.count)))
            try writer.write(n == chunk.count ? chunk : chunk.prefix(n))
            left -= Int64(n)
        }
    }

    // MARK: Reading a directory

    /// An OCI image layout (or unpacked docker-archive) directory: metadata files are read now,
    /// blobs only when referenced.
    static func scanDirectory(_ url: URL) throws -> ImportSource {
        var source = ImportSource()
        source.directory = url
        for name in ["index.json", "oci-layout", "manifest.json", "repositories"] {
            let file = url.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: file.path) else { continue }
            let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.int64Value ?? 0
            guard size <= Int64(metadataLimit) else { throw ImportError.invalidDocument("\(name) is larger than \(metadataLimit) bytes") }
            do { source.files[name] = try Data(contentsOf: file) } catch {
                throw ImportError.io("cannot read \(file.path): \(error.localizedDescription)")
            }
        }
        return source
    }

    /// Makes sure the blob is in the store: true when it is (already, or ingested now from a
    /// directory source).
    mutating func ensureBlob(_ digest: Digest, store: LocalContentStore) async throws -> Bool {
        if await store.has(digest) { return true }
        guard let directory else { return false }
        let file = directory.appendingPathComponent("blobs/sha256/\(digest.encoded)")
        guard FileManager.default.fileExists(atPath: file.path) else { return false }
        let result: IngestResult
        do { result = try await store.ingest(file: file, expecting: digest, size: nil) } catch let error as ContentStoreError {
            if case .digestMismatch(_, let actual) = error {
                throw ImportError.blobDoesNotVerify(digest, "its content hashes to \(actual)")
            }
            throw ImportError.io(error.description)
        }
        if result.isNew { added.append(digest) }
        return true
    }

    /// Small metadata file by path (links followed); for a directory read on demand.
    func metadata(_ path: String) throws -> Data? {
        let resolved = resolve(path)
        if let data = files[resolved] { return data }
        guard let directory, let normalized = Self.normalize(resolved) else { return nil }
        let file = directory.appendingPathComponent(normalized)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.int64Value ?? 0
        guard size <= Int64(Self.metadataLimit) else { return nil }
        return try Data(contentsOf: file)
    }

    /// A non-layout file (a docker-archive layer) as a stored blob, ingesting it when needed.
    mutating func fileBlob(_ path: String, store: LocalContentStore) async throws -> IngestResult? {
        let resolved = resolve(path)
        if let digest = try Self.layoutBlobDigest(resolved) {
            guard try await ensureBlob(digest, store: store) else { return nil }
            return IngestResult(digest: digest, size: try await store.size(of: digest), isNew: false)
        }
        if let result = pathBlobs[resolved] { return result }
        if let data = files[resolved] {
            let result = try await store.ingest(data: data, expecting: nil, size: nil)
            if result.isNew { added.append(result.digest) }
            pathBlobs[resolved] = result
            return result
        }
        guard let directory, let normalized = Self.normalize(resolved) else { return nil }
        let file = directory.appendingPathComponent(normalized)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let result = try await store.ingest(file: file, expecting: nil, size: nil)
        if result.isNew { added.append(result.digest) }
        pathBlobs[resolved] = result
        return result
    }
}

import Foundation

/// References (canonical name → manifest digest), persisted in one JSON file that is replaced
/// atomically (temp file, fsync, rename) on every change.
public actor ImageStore {
    /// `<root>/references.json`.
    public nonisolated let file: URL
    private var records: [String: ImageRecord]

    private struct FileFormat: Codable {
        var version: Int
        var references: [String: ImageRecord]
    }

    /// Opens the store in `root`, reading the references file when it exists.
    public init(root: URL) throws {
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw ImageStoreError.io("cannot create \(root.path): \(error.localizedDescription)")
        }
        self.file = root.appendingPathComponent("references.json")
        guard FileManager.default.fileExists(atPath: file.path) else {
            self.records = [:]
            return
        }
        do {
            let data = try Data(contentsOf: file)
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let contents = try decoder.decode(FileFormat.self, from: data)
            guard contents.version == 1 else { throw ImageStoreError.corrupt(file.path, "unknown version \(contents.version)") }
            self.records = contents.references
        } catch let error as ImageStoreError {
            throw error
        } catch {
            throw ImageStoreError.corrupt(file.path, "\(error)")
        }
    }

    /// Points `reference` at a manifest, replacing what it pointed at before. Returns the
    /// previous record, if any.
    @discardableResult
    public func tag(_ reference: ImageReference, manifest: Digest, index: Digest? = nil) throws -> ImageRecord? {
        let key = reference.withoutDigest.canonical
        let previous = records[key]
        var updated = records
        updated[key] = ImageRecord(reference: reference.withoutDigest, manifest: manifest, index: index)
        try persist(updated)
        records = updated
        return previous
    }

    /// Removes a reference; throws `notFound` when it does not exist.
    @discardableResult
    public func untag(_ reference: ImageReference) throws -> ImageRecord {
        let key = reference.withoutDigest.canonical
        guard let record = records[key] else { throw ImageStoreError.notFound(reference.display) }
        var updated = records
        updated[key] = nil
        try persist(updated)
        records = updated
        return record
    }

    /// Removes every reference to `manifest`; returns them.
    @discardableResult
    public func untagAll(manifest: Digest) throws -> [ImageRecord] {
        let removed = records.values.filter { $0.manifest == manifest }
        guard !removed.isEmpty else { return [] }
        var updated = records
        for r in removed { updated[r.reference.canonical] = nil }
        try persist(updated)
        records = updated
        return removed.sorted { $0.reference.canonical < $1.reference.canonical }
    }

    /// The record for a reference, if it exists.
    public func record(for reference: ImageReference) -> ImageRecord? {
        records[reference.withoutDigest.canonical]
    }

    /// All records, sorted by reference.
    public func list() -> [ImageRecord] {
        records.values.sorted { $0.reference.canonical < $1.reference.canonical }
    }

    /// The references pointing at `manifest`.
    public func references(to manifest: Digest) -> [ImageReference] {
        records.values.filter { $0.manifest == manifest }.map(\.reference).sorted { $0.canonical < $1.canonical }
    }

    /// Every digest a reference keeps alive: the manifests and the indexes they came from.
    public func roots() -> Set<Digest> {
        var roots = Set<Digest>()
        for r in records.values {
            roots.insert(r.manifest)
            if let index = r.index { roots.insert(index) }
        }
        return roots
    }

    /// Resolves what a user typed: a reference (`busybox`, `app:1.0`), `name@sha256:…`, a full
    /// digest, or a unique prefix of a tagged manifest's digest (`3f2a9c`, `sha256:3f2a9c`).
    /// A full digest is returned even when no reference points at it.
    public func resolve(_ string: String) throws -> ResolvedReference {
        let trimmed = string.trimmingCharacters(in: .whitespaces)
        if let digest = try? Digest(parsing: trimmed) {
            return ResolvedReference(manifest: digest, record: records.values.first { $0.manifest == digest })
        }
        var parseError: ReferenceError?
        do {
            let reference = try ImageReference(parsing: trimmed)
            if let digest = reference.digest {
                let record = record(for: reference).flatMap { $0.manifest == digest ? $0 : nil }
                return ResolvedReference(manifest: digest, record: record)
            }
            if let record = record(for: reference) {
                return ResolvedReference(manifest: record.manifest, record: record)
            }
        } catch {
            parseError = error
        }
        var prefix = Substring(trimmed)
        if prefix.hasPrefix("sha256:") { prefix = prefix.dropFirst(7) }
        let isHex = !prefix.isEmpty && prefix.allSatisfy { $0.isHexDigit && ($0.isNumber || $0.isLowercase) }
        if isHex && prefix.count >= 3 {
            let matches = Set(records.values.map(\.manifest).filter { $0.encoded.hasPrefix(prefix) })
            if matches.count > 1 { throw ImageStoreError.ambiguous(string, matches.count) }
            if let digest = matches.first {
                return ResolvedReference(manifest: digest, record: records.values.first { $0.manifest == digest })
            }
        }
        if let parseError, !isHex { throw ImageStoreError.invalidReference(parseError) }
        throw ImageStoreError.notFound(string)
    }

    private func persist(_ records: [String: ImageRecord]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        do {
            let data = try encoder.encode(FileFormat(version: 1, references: records))
            try AtomicFile.write(data, to: file)
        } catch {
            throw ImageStoreError.io("cannot write \(file.path): \(error)")
        }
    }
}

/// The outcome of `ImageStore.resolve`: the manifest digest, and the reference record when a
/// reference points at it.
public struct ResolvedReference: Sendable, Hashable {
    public var manifest: Digest
    public var record: ImageRecord?
}

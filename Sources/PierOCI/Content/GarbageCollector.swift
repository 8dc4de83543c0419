import Foundation

/// Mark-and-sweep over a content store: everything reachable from the roots (index → manifests
/// → config and layers) is kept, every other blob is deleted.
public enum GarbageCollector {
    /// What a collection removed.
    public struct Report: Sendable, Hashable {
        public var removed: [Digest]
        public var reclaimedBytes: Int64
        public var count: Int { removed.count }
        public init(removed: [Digest] = [], reclaimedBytes: Int64 = 0) {
            self.removed = removed; self.reclaimedBytes = reclaimedBytes
        }
    }

    /// Deletes every blob of `store` that is not reachable from `roots`.
    public static func collect(in store: some ContentStore, roots: Set<Digest>) async throws -> Report {
        let keep = try await reachable(from: roots, in: store)
        var report = Report()
        for digest in try await store.allDigests() where !keep.contains(digest) {
            let bytes = try await store.delete(digest)
            report.removed.append(digest)
            report.reclaimedBytes += bytes
        }
        return report
    }

    /// Every digest reachable from `roots`, including roots and children that are absent.
    public static func reachable(from roots: Set<Digest>, in store: some ContentStore) async throws -> Set<Digest> {
        var seen = Set<Digest>()
        var queue = Array(roots)
        while let digest = queue.popLast() {
            guard seen.insert(digest).inserted else { continue }
            for child in try await children(of: digest, in: store) where !seen.contains(child.digest) {
                if MediaType.isManifest(child.mediaType) || MediaType.isIndex(child.mediaType) {
                    queue.append(child.digest)
                } else {
                    seen.insert(child.digest)
                }
            }
        }
        return seen
    }

    /// The blobs a manifest or index refers to; none for anything else or an absent blob.
    public static func children(of digest: Digest, in store: some ContentStore) async throws -> [Descriptor] {
        guard await store.has(digest) else { return [] }
        guard let size = try? await store.size(of: digest), size <= ContentStoreLimits.maxDocumentBytes,
              let data = try? await store.read(digest, limit: ContentStoreLimits.maxDocumentBytes),
              let document = try? JSONDecoder().decode(Document.self, from: data)
        else { return [] }
        var children: [Descriptor] = document.manifests ?? []
        if let config = document.config { children.append(config) }
        children += document.layers ?? []
        if let subject = document.subject { children.append(subject) }
        return children
    }

    /// The fields of a manifest or an index that name other blobs.
    private struct Document: Decodable {
        var manifests: [Descriptor]?
        var config: Descriptor?
        var layers: [Descriptor]?
        var subject: Descriptor?
    }
}

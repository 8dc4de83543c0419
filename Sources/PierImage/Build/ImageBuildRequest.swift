import Foundation
import PierOCI

/// What to build: a base (or scratch), layers of files copied from the host, and config changes.
/// The same request always produces the same digests.
public struct ImageBuildRequest: Sendable {
    /// The image to build on: its manifest and config exactly as stored (so digests match).
    public struct Base: Sendable {
        public var manifest: Data
        public var config: Data
        /// Shown in the `org.opencontainers.image.base.name` annotation.
        public var reference: String?

        public init(manifest: Data, config: Data, reference: String? = nil) {
            self.manifest = manifest; self.config = config; self.reference = reference
        }
    }

    /// A file or directory (copied recursively, symlinks kept as symlinks) from the host.
    public struct CopyItem: Sendable, Hashable {
        public var source: URL
        /// Where `source` itself lands in the image: a file's path, or the directory that
        /// receives a directory's contents.
        public var destination: String
        /// For an ELF executable: also add the shared libraries and the ELF interpreter it
        /// needs, at the paths the host has them.
        public var withLibs: Bool

        public init(source: URL, destination: String, withLibs: Bool = false) {
            self.source = source; self.destination = destination; self.withLibs = withLibs
        }
    }

    /// One new layer.
    public struct Layer: Sendable {
        public var items: [CopyItem]
        /// The `created_by` of its history entry, e.g. `COPY app /app`.
        public var createdBy: String?
        /// Owner of this layer's files; the request's ownership when nil.
        public var ownership: Ownership?

        public init(items: [CopyItem], createdBy: String? = nil, ownership: Ownership? = nil) {
            self.items = items; self.createdBy = createdBy; self.ownership = ownership
        }
    }

    /// Owner of every file in the new layers.
    public struct Ownership: Sendable, Hashable {
        public var uid: Int64
        public var gid: Int64
        public init(uid: Int64, gid: Int64) { self.uid = uid; self.gid = gid }
    }

    public var base: Base?
    public var layers: [Layer]
    public var changes: ImageConfigChanges
    /// The name written into `index.json` (`org.opencontainers.image.ref.name`).
    public var tag: ImageReference?
    /// The platform of a scratch image; the base's platform otherwise. Default: this host.
    public var platform: Platform?
    /// Timestamp of every file and of the config; default `SOURCE_DATE_EPOCH`, else 0.
    public var sourceDateEpoch: Int64?
    /// Default: root (0:0).
    public var ownership: Ownership?

    public init(base: Base? = nil, layers: [Layer], changes: ImageConfigChanges = ImageConfigChanges(),
                tag: ImageReference? = nil, platform: Platform? = nil, sourceDateEpoch: Int64? = nil,
                ownership: Ownership? = nil) {
        self.base = base; self.layers = layers; self.changes = changes; self.tag = tag
        self.platform = platform; self.sourceDateEpoch = sourceDateEpoch; self.ownership = ownership
    }
}

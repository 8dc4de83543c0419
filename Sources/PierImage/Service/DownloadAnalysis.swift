import Foundation
import PierOCI

/// What installing or updating a set of images downloads, from the blobs they name: the
/// measurements of AGILE (seed 001, Table I and Figs. 5–6) on the images of this store.
public struct ImageDownloadCost: Sendable {
    public struct Image: Sendable {
        public var name: String
        public var manifest: Digest
        /// Manifest, config and layers, with their sizes.
        public var blobs: [Digest: Int64]
        public var layers: [Descriptor]
    }

    public var images: [Image]
    public var from: [Image]

    /// Every distinct blob of `images` once.
    public var installBytes: Int64 { Self.union(images).values.reduce(0, +) }
    /// Each image on its own.
    public var separateBytes: Int64 { images.reduce(0) { $0 + $1.blobs.values.reduce(0, +) } }

    /// Blobs of `images` that only `image` has.
    public func uniqueBytes(of image: Image) -> Int64 {
        let others = Self.union(images.filter { $0.manifest != image.manifest })
        return image.blobs.filter { others[$0.key] == nil }.values.reduce(0, +)
    }

    /// Blobs of `images` that no image of `from` has.
    public var updateBlobs: [Digest: Int64] {
        let held = Self.union(from)
        return Self.union(images).filter { held[$0.key] == nil }
    }

    static func union(_ images: [Image]) -> [Digest: Int64] {
        var all: [Digest: Int64] = [:]
        for image in images { all.merge(image.blobs) { a, _ in a } }
        return all
    }

    /// For each changed layer, the layer of a `from` image at the same position: the base a
    /// delta update patches.
    public var deltaBases: [Digest: Digest] {
        let changed = updateBlobs
        var bases: [Digest: Digest] = [:]
        for image in images {
            for (position, layer) in image.layers.enumerated() where changed[layer.digest] != nil && bases[layer.digest] == nil {
                if let base = from.lazy.compactMap({ position < $0.layers.count ? $0.layers[position].digest : nil }).first {
                    bases[layer.digest] = base
                }
            }
        }
        return bases
    }
}

extension ImageService {
    /// The blobs of `references` and of `from`, resolved in this store.
    public func downloadCost(of references: [String], from: [String]) async throws -> ImageDownloadCost {
        func load(_ reference: String) async throws -> ImageDownloadCost.Image {
            let image = try await resolve(reference)
            var blobs: [Digest: Int64] = [image.manifestDigest: (try? await content.size(of: image.manifestDigest)) ?? 0]
            blobs[image.manifest.config.digest] = image.manifest.config.size
            for layer in image.manifest.layers { blobs[layer.digest] = layer.size }
            return .init(name: image.reference?.display ?? reference, manifest: image.manifestDigest, blobs: blobs, layers: image.manifest.layers)
        }
        var images: [ImageDownloadCost.Image] = [], old: [ImageDownloadCost.Image] = []
        for r in references { images.append(try await load(r)) }
        for r in from { old.append(try await load(r)) }
        return ImageDownloadCost(images: images, from: old)
    }
}

import Foundation
import PierOCI

/// Tells image manifests and indexes apart by their content.
enum ManifestMediaType {
    /// The media type of a manifest or index document, from its `mediaType` field or, when
    /// absent (image-spec allows that), its shape; nil for anything else.
    static func detect(_ data: Data) -> String? {
        struct Shape: Decodable {
            var mediaType: String?
            var manifests: [Descriptor]?
            var config: Descriptor?
        }
        guard let shape = try? JSONDecoder().decode(Shape.self, from: data) else { return nil }
        if let type = shape.mediaType {
            return MediaType.isManifest(type) || MediaType.isIndex(type) ? type : nil
        }
        if shape.manifests != nil { return MediaType.ociIndex }
        if shape.config != nil { return MediaType.ociManifest }
        return nil
    }
}

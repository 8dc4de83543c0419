import Foundation
import PierOCI

/// Image references and the image-spec JSON a registry or an image archive hands Pier.
enum FuzzOCI {
    /// A reference that parses must print to a form that parses back to itself.
    static func reference(_ bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? Digest(parsing: text)
        guard let reference = try? ImageReference(parsing: text) else { return nil }
        for form in [reference.canonical, reference.display] {
            guard let again = try? ImageReference(parsing: form) else { return "\"\(text)\" parses but its form \"\(form)\" does not" }
            guard again == reference else { return "\"\(text)\" and its form \"\(form)\" parse to different references" }
        }
        _ = reference.familiarName
        _ = reference.withoutDigest
        _ = try? reference.withTag("fuzz")
        return nil
    }

    /// The bytes as a manifest, an index and a config; what decodes must encode and decode
    /// to an equal value (Pier stores what it re-encodes).
    static func manifest(_ bytes: [UInt8]) -> String? {
        let data = Data(bytes)
        if let manifest = try? ImageManifest.decode(data) {
            guard let encoded = try? manifest.encoded(), (try? ImageManifest.decode(encoded)) == manifest else {
                return "a manifest does not survive its own encoding"
            }
            for layer in manifest.layers { _ = MediaType.layerCompression(layer.mediaType) }
        }
        if let index = try? ImageIndex.decode(data) {
            guard let encoded = try? index.encoded(), (try? ImageIndex.decode(encoded)) == index else {
                return "an index does not survive its own encoding"
            }
        }
        if let config = try? ImageConfig.decode(data) {
            _ = config.createdDate
            _ = config.platform
            guard let encoded = try? config.encoded(), (try? ImageConfig.decode(encoded)) == config else {
                return "an image config does not survive its own encoding"
            }
        }
        return nil
    }
}

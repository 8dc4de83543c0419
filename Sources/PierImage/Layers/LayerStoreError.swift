import PierOCI

/// What went wrong in the layer store.
public enum LayerStoreError: Error, Sendable, CustomStringConvertible {
    case notALayer(Digest, String)
    case busy(Digest)
    case io(String)

    public var description: String {
        switch self {
        case .notALayer(let d, let type):
            "blob \(d) has media type \"\(type)\", which is not a layer; it cannot be unpacked"
        case .busy(let d):
            "layer \(d) is being unpacked; try again when that finishes"
        case .io(let message):
            "layer store: \(message)"
        }
    }
}

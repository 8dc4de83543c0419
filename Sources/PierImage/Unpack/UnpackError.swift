import PierOCI

/// Why a layer was not unpacked. Nothing of it is left on disk when one of these is thrown.
public enum UnpackError: Error, Sendable, CustomStringConvertible {
    /// An entry that could write outside the layer, or that a layer may not contain.
    case refused(layer: Digest, entry: String, reason: Refusal)
    /// The layer crosses a bound of `LayerUnpacker.Configuration`: `what` names it ("bytes",
    /// "entries", "compression ratio", "bytes in one name", …), `value` is what the layer reached.
    case limitExceeded(layer: Digest, what: String, limit: Int64, value: Int64)
    /// The blob does not hash to the digest it is stored under.
    case digestMismatch(layer: Digest, actual: Digest)
    /// The decompressed tar stream does not hash to the diff id the image config names.
    case diffIDMismatch(layer: Digest, expected: Digest, actual: Digest)
    /// Not a (compressed) tar stream, or a truncated one.
    case corrupt(layer: Digest, message: String)
    /// A system call failed while writing an entry.
    case io(layer: Digest, entry: String, message: String)

    /// Kinds of entries a layer may not contain.
    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case parentReference
        case absolutePath
        case throughSymlink(String)
        case parentNotDirectory(String)
        case hardLinkOutside(String)
        case hardLinkMissingTarget(String)
        case symlinkEscapes(String)
        case deviceNode
        case unsupportedType(String)
        case invalidName

        public var description: String {
            switch self {
            case .parentReference: "has a \"..\" component"
            case .absolutePath: "is an absolute path"
            case .throughSymlink(let p): "goes through the symbolic link \"\(p)\""
            case .parentNotDirectory(let p): "has a parent \"\(p)\" that is not a directory"
            case .hardLinkOutside(let t): "is a hard link to \"\(t)\", outside the layer"
            case .hardLinkMissingTarget(let t): "is a hard link to \"\(t)\", which is not in the layer"
            case .symlinkEscapes(let t): "is a symbolic link to \"\(t)\", which climbs above the root"
            case .deviceNode: "is a device node; layers may not create devices"
            case .unsupportedType(let t): "is a \(t), which layers may not contain"
            case .invalidName: "has an invalid name"
            }
        }
    }

    public var description: String {
        switch self {
        case .refused(let layer, let entry, let reason):
            "layer \(layer) has entry \"\(entry)\" that \(reason); refusing to unpack"
        case .limitExceeded(let layer, "compression ratio", let limit, let value):
            "layer \(layer) decompresses to more than \(limit) times its compressed size (\(value):1), the unpack limit; refusing to unpack a likely decompression bomb"
        case .limitExceeded(let layer, let what, let limit, let value):
            "layer \(layer) exceeds the unpack limit of \(limit) \(what) (it reached \(value)); refusing to unpack (raise the limit if the image is trusted; the byte limit is also at most a share of the free disk space)"
        case .digestMismatch(let layer, let actual):
            "layer \(layer) does not verify: its bytes hash to \(actual); remove and re-import the image"
        case .diffIDMismatch(let layer, let expected, let actual):
            "layer \(layer) unpacks to diff id \(actual) but the image config says \(expected); the image is corrupt"
        case .corrupt(let layer, let message):
            "layer \(layer) is not a readable tar stream (\(message)); re-import the image"
        case .io(let layer, let entry, let message):
            "unpacking \"\(entry)\" of layer \(layer) failed: \(message)"
        }
    }
}

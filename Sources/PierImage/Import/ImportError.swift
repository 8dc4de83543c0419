import PierOCI

/// Why an import failed. The content store is left as it was: blobs this import added are removed.
public enum ImportError: Error, Sendable, CustomStringConvertible {
    case notAnImage(String)
    case corruptArchive(String, message: String)
    case missingBlob(Digest, role: String)
    case blobDoesNotVerify(Digest, String)
    case sizeMismatch(Digest, declared: Int64, actual: Int64)
    case unknownMediaType(String, blob: Digest, role: String)
    case invalidDocument(String)
    case noMatchingPlatform(index: Digest, host: Platform, available: [String])
    case invalidDockerArchive(String)
    case layerDoesNotMatchDiffID(layer: Digest, diffID: Digest)
    case tagNeedsOneImage(Int)
    /// The archive crosses a bound of `LayerUnpacker.Configuration`.
    case limitExceeded(String, what: String, limit: Int64, value: Int64)
    case io(String)

    public var description: String {
        switch self {
        case .notAnImage(let path):
            "\(path) is neither an OCI image layout (index.json) nor a docker-archive (manifest.json)"
        case .corruptArchive(let path, let message):
            "the archive \(path) is damaged or truncated (\(message)); nothing was imported"
        case .missingBlob(let d, let role):
            "\(role) \(d) is neither in the archive nor in the content store; nothing was imported"
        case .blobDoesNotVerify(let d, let reason):
            "blob \(d) in the archive does not verify (\(reason)); nothing was imported"
        case .sizeMismatch(let d, let declared, let actual):
            "blob \(d) is \(actual) bytes but its descriptor says \(declared); nothing was imported"
        case .unknownMediaType(let type, let blob, let role):
            "\(role) \(blob) has unknown media type \"\(type)\"; nothing was imported"
        case .invalidDocument(let reason):
            "\(reason); nothing was imported"
        case .noMatchingPlatform(let index, let host, let available):
            "image index \(index) has no manifest for \(host) (it has: \(available.isEmpty ? "none" : available.joined(separator: ", "))); nothing was imported"
        case .invalidDockerArchive(let reason):
            "the docker-archive is invalid: \(reason); nothing was imported"
        case .layerDoesNotMatchDiffID(let layer, let diffID):
            "uncompressed layer \(layer) does not match the config's diff id \(diffID); nothing was imported"
        case .tagNeedsOneImage(let n):
            "the archive holds \(n) images; a tag can name only one (import without a tag, or one image at a time)"
        case .limitExceeded(let path, "compression ratio", let limit, let value):
            "the archive \(path) decompresses to more than \(limit) times its size (\(value):1); refusing a likely decompression bomb; nothing was imported"
        case .limitExceeded(let path, let what, let limit, let value):
            "the archive \(path) exceeds the import limit of \(limit) \(what) (it reached \(value)); nothing was imported"
        case .io(let message):
            "import: \(message)"
        }
    }
}

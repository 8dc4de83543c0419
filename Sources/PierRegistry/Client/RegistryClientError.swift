import PierOCI

/// What went wrong pulling from a registry.
public enum RegistryClientError: Error, Sendable, CustomStringConvertible {
    case invalidBaseURL(String)
    case invalidImage(String, reason: String)
    /// The registry answered with an error (distribution-spec JSON when it sent one).
    case registry(status: Int, url: String, RegistryErrorBody?)
    case unexpectedResponse(url: String, String)
    /// A manifest's bytes do not hash to the digest it was asked by or announced with.
    case manifestDoesNotVerify(url: String, expected: Digest, actual: Digest)
    /// A blob's bytes do not hash to (or are not as long as) its descriptor.
    case blobDoesNotVerify(Digest, String)
    case invalidManifest(url: String, String)
    case noMatchingPlatform(index: Digest, platform: Platform, available: [String])
    /// The connection failed and retrying (with `Range`, to resume) did not help.
    case transfer(url: String, attempts: Int, String)
    /// The token endpoint of a `Bearer` challenge refused the credentials (or their absence).
    case authentication(url: String, status: Int, String)
    /// The blobs an image still needs add up to more than the store may take (`Configuration.freeSpaceFraction`).
    case tooLarge(image: String, bytes: Int64, limit: Int64)

    public var description: String {
        switch self {
        case .invalidBaseURL(let url):
            "registry address \"\(url)\" is not an http:// or https:// URL with a host"
        case .invalidImage(let image, let reason):
            "image \"\(image)\" is invalid: \(reason); expected <repository>:<tag> or <repository>@sha256:<hex>"
        case .registry(let status, let url, let body):
            "registry answered \(status) for \(url)" + (body.map { ": \($0.summary)" } ?? "")
        case .unexpectedResponse(let url, let what):
            "registry sent an unexpected response for \(url): \(what)"
        case .manifestDoesNotVerify(let url, let expected, let actual):
            "manifest from \(url) hashes to \(actual), not \(expected); it was tampered with or corrupted and was not stored"
        case .blobDoesNotVerify(let digest, let reason):
            "blob \(digest) from the registry does not verify (\(reason)); it was tampered with or corrupted and was not stored"
        case .invalidManifest(let url, let reason):
            "manifest from \(url) is invalid: \(reason)"
        case .noMatchingPlatform(let index, let platform, let available):
            "image index \(index) has no image for \(platform) "
                + "(it has \(available.isEmpty ? "none with a platform" : available.joined(separator: ", ")))"
        case .transfer(let url, let attempts, let reason):
            "download of \(url) failed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(reason); "
                + "check the link to the registry and pull again"
        case .authentication(let url, let status, let message):
            "the registry's token endpoint \(url) answered \(status): \(message)"
        case .tooLarge(let image, let bytes, let limit):
            "image \(image) needs \(bytes) bytes of blobs but the pull limit is \(limit) bytes (a share of the free disk space); nothing was downloaded"
        }
    }
}

/// Why a string is not a valid image reference.
public enum ReferenceError: Error, Sendable, CustomStringConvertible {
    case empty
    case tooLong(String)
    case invalidTag(String, String)
    case invalidName(String, reason: String)
    case invalidDigest(String, DigestError)

    public var description: String {
        switch self {
        case .empty:
            "image reference is empty; expected name[:tag][@sha256:digest], e.g. busybox:latest"
        case .tooLong(let s):
            "image reference \"\(s.prefix(80))…\" is too long (names, with the registry, are at most 255 characters)"
        case .invalidTag(let s, let tag):
            "image reference \"\(s)\" has an invalid tag \"\(tag)\" (1-128 of letters, digits, _ . -, not starting with . or -)"
        case .invalidName(let s, let reason):
            "image reference \"\(s)\" is invalid: \(reason)"
        case .invalidDigest(let s, let error):
            "image reference \"\(s)\" has an invalid digest: \(error)"
        }
    }
}

/// What went wrong in the content store.
public enum ContentStoreError: Error, Sendable, CustomStringConvertible {
    case notFound(Digest)
    case digestMismatch(expected: Digest, actual: Digest)
    case sizeMismatch(Digest, expected: Int64, actual: Int64)
    case longerThanDeclared(Digest?, size: Int64)
    case tooLarge(Digest, size: Int64, limit: Int64)
    case io(String)

    public var description: String {
        switch self {
        case .notFound(let d):
            "blob \(d) is not in the content store; import or pull the image that contains it"
        case .digestMismatch(let expected, let actual):
            "blob \(expected) does not verify: its content hashes to \(actual); it was not stored"
        case .sizeMismatch(let d, let expected, let actual):
            "blob \(d) is \(actual) bytes but was declared as \(expected); it was not stored"
        case .longerThanDeclared(let d, let size):
            "blob \(d.map { $0.description } ?? "being stored") is longer than its declared \(size) bytes; it was not stored"
        case .tooLarge(let d, let size, let limit):
            "blob \(d) is \(size) bytes, more than the \(limit) bytes allowed for it"
        case .io(let message):
            "content store: \(message)"
        }
    }
}

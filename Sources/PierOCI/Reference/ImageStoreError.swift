/// What went wrong in the image store.
public enum ImageStoreError: Error, Sendable, CustomStringConvertible {
    case notFound(String)
    case ambiguous(String, Int)
    case invalidReference(ReferenceError)
    case corrupt(String, String)
    case io(String)

    public var description: String {
        switch self {
        case .notFound(let s):
            "no image \"\(s)\" in the store; `pier image ls` lists the images"
        case .ambiguous(let s, let n):
            "\"\(s)\" matches \(n) images; give more digest characters"
        case .invalidReference(let error):
            error.description
        case .corrupt(let path, let reason):
            "the image references file \(path) is unreadable (\(reason)); restore it from a backup or remove it and re-import the images"
        case .io(let message):
            "image store: \(message)"
        }
    }
}

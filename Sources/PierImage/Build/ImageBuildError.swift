/// Why a build failed.
public enum ImageBuildError: Error, Sendable, CustomStringConvertible {
    case invalidBase(String)
    case invalidDestination(String, reason: String)
    case unreadableSource(String, reason: String)
    case unsupportedFileType(String, String)
    case conflictingEntries(String)
    case missingLibrary(String, neededBy: String)
    case notELF(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidBase(let reason): "the base image cannot be used: \(reason)"
        case .invalidDestination(let d, let reason): "destination \"\(d)\" is invalid: \(reason)"
        case .unreadableSource(let s, let reason): "cannot read \(s): \(reason)"
        case .unsupportedFileType(let s, let type): "\(s) is a \(type); only files, directories and symbolic links can be copied into an image"
        case .conflictingEntries(let p): "\"\(p)\" is both a directory and a file in the same layer; copy them into different paths"
        case .missingLibrary(let lib, let by): "shared library \(lib) needed by \(by) was not found on this host; install it or copy it explicitly"
        case .notELF(let s): "\(s) is not an ELF executable; --with-libs only applies to ELF binaries"
        case .io(let message): "build: \(message)"
        }
    }
}

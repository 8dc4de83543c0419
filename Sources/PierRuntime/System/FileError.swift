import Foundation

/// Failures reading or writing the runtime's own files.
public enum FileError: Error, CustomStringConvertible, Sendable, Equatable {
    case cannotWrite(String, String)
    case cannotCreateDirectory(String, String)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason); check free space and permissions of that directory"
        case .cannotCreateDirectory(let path, let reason):
            return "cannot create directory \(path): \(reason); check free space and permissions"
        }
    }
}

extension FileManager {
    /// `createDirectory` with an error that names the directory.
    func makeDirectory(_ url: URL) throws {
        do {
            try createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw FileError.cannotCreateDirectory(url.path, "\(error.localizedDescription)")
        }
    }
}

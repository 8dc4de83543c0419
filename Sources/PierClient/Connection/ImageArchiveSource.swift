import Foundation

/// What `pier image import` uploads.
public enum ImageArchiveSource: Sendable, Equatable {
    /// An oci-archive or docker-archive file, sent as is.
    case file(String)
    /// An OCI image layout directory, tarred on the fly.
    case directory(String)

    /// A file or directory, decided by what is at `path`.
    public init(path: String) throws(ClientError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .file(path: path, reason: "no such file or directory")
        }
        self = isDirectory.boolValue ? .directory(path) : .file(path)
    }
}

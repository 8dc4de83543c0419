import CArchive

/// A libarchive call that failed.
public struct ArchiveError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var message: String

    public init(_ operation: String, message: String) {
        self.operation = operation; self.message = message
    }

    /// The archive's last error message.
    init(_ operation: String, archive: OpaquePointer?) {
        let text = archive.flatMap { archive_error_string($0) }.map { String(cString: $0) } ?? "unknown error"
        self.init(operation, message: text)
    }

    public var description: String { "\(operation): \(message)" }
}

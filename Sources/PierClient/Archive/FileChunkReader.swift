import Foundation

/// Reads a file in fixed-size chunks.
public struct FileChunkReader: ByteChunkSource {
    private let handle: FileHandle
    private let path: String
    private let chunkSize: Int

    /// Opens `path` for reading.
    public init(path: String, chunkSize: Int = 256 << 10) throws(ClientError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .file(path: path, reason: "cannot open it for reading (does it exist, and may you read it?)")
        }
        self.handle = handle; self.path = path; self.chunkSize = chunkSize
    }

    public mutating func nextChunk() throws -> [UInt8]? {
        let data: Data?
        do {
            data = try handle.read(upToCount: chunkSize)
        } catch {
            throw ClientError.file(path: path, reason: "read failed: \(error)")
        }
        guard let data, !data.isEmpty else {
            try? handle.close()
            return nil
        }
        return [UInt8](data)
    }
}

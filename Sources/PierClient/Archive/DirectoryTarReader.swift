import Foundation

/// Produces a tar archive of a directory (e.g. an OCI image layout) chunk by chunk, in sorted
/// order, owned by root with mtime 0. Regular files and directories only; anything else is refused.
/// The archive's total size is known before the first byte, so uploads can send `Content-Length`.
public struct DirectoryTarReader: ByteChunkSource {
    struct Entry { var header: TarHeader; var source: String? }

    private let entries: [Entry]
    private var index = 0
    private var file: FileChunkReader?
    private var fileBytesLeft: Int64 = 0
    private var pendingPadding: [UInt8] = []
    private var finished = false
    private var currentSource = ""

    /// Size in bytes of the whole archive.
    public let totalSize: Int64

    /// Lists `directory` (recursively) and computes the archive's size; no content is read yet.
    public init(directory: String) throws(ClientError) {
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .file(path: directory, reason: "not a directory")
        }
        var entries: [Entry] = []
        try Self.walk(root: root, relative: "", into: &entries)
        self.entries = entries
        self.totalSize = entries.reduce(Int64(TarHeader.endOfArchive.count)) { $0 + $1.header.archiveSize }
    }

    private static func walk(root: String, relative: String, into entries: inout [Entry]) throws(ClientError) {
        let dir = relative.isEmpty ? root : root + "/" + relative
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        } catch {
            throw .file(path: dir, reason: "cannot list it: \(error.localizedDescription)")
        }
        for name in names {
            let rel = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + rel
            var st = stat()
            guard lstat(full, &st) == 0 else {
                throw .file(path: full, reason: "cannot stat it: \(String(cString: strerror(errno)))")
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                entries.append(Entry(header: TarHeader(path: rel, kind: .directory, size: 0, mode: 0o755), source: nil))
                try walk(root: root, relative: rel, into: &entries)
            case S_IFREG:
                entries.append(Entry(header: TarHeader(path: rel, kind: .file, size: Int64(st.st_size), mode: 0o644), source: full))
            default:
                throw .file(path: full, reason: "only regular files and directories can be archived (an OCI layout holds nothing else)")
            }
        }
    }

    public mutating func nextChunk() throws -> [UInt8]? {
        while true {
            if var reader = file {
                // Only the size announced in the header is sent, even if the file grew meanwhile.
                if fileBytesLeft > 0, let chunk = try reader.nextChunk() {
                    file = reader
                    let take = Int(min(Int64(chunk.count), fileBytesLeft))
                    fileBytesLeft -= Int64(take)
                    return take == chunk.count ? chunk : Array(chunk[..<take])
                }
                file = nil
                if fileBytesLeft > 0 {
                    throw ClientError.file(path: currentSource, reason: "the file shrank while it was archived; try again")
                }
                let padding = pendingPadding
                pendingPadding = []
                if !padding.isEmpty { return padding }
                continue
            }
            guard index < entries.count else {
                if finished { return nil }
                finished = true
                return TarHeader.endOfArchive
            }
            let entry = entries[index]
            index += 1
            if let source = entry.source, entry.header.size > 0 {
                file = try FileChunkReader(path: source)
                currentSource = source
                fileBytesLeft = entry.header.size
                pendingPadding = TarHeader.padding(for: entry.header.size)
            }
            return entry.header.encoded()
        }
    }
}

import PierSpec
import Foundation
import PierAPI

/// Reads container logs written by `pier-shim` in the CRI format
/// (`2026-01-02T15:04:05.123456789Z stdout F text`), across rotated files.
struct ContainerLog: Sendable {
    let path: URL

    struct Line: Sendable, Equatable {
        var time: String
        var stream: StreamFrame.Kind
        var partial: Bool
        var text: Substring
    }

    /// Parses one CRI line (without its newline); nil for a malformed line.
    static func parse(_ line: Substring) -> Line? {
        let fields = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count >= 3 else { return nil }
        let stream: StreamFrame.Kind
        switch fields[1] {
        case "stdout": stream = .stdout
        case "stderr": stream = .stderr
        default: return nil
        }
        return Line(time: String(fields[0]), stream: stream, partial: fields[2] == "P", text: fields.count == 4 ? fields[3] : "")
    }

    /// Rotated files oldest first, then the live file.
    func files() -> [URL] {
        var rotated: [URL] = []
        var n = 1
        while FileManager.default.fileExists(atPath: path.path + ".\(n)") {
            rotated.append(URL(fileURLWithPath: path.path + ".\(n)")); n += 1
        }
        return rotated.reversed() + [path]
    }

    /// The frames for every complete line in `data`; returns how many bytes were consumed.
    static func frames(from data: Data, timestamps: Bool) -> (frames: [StreamFrame], consumed: Int) {
        var frames: [StreamFrame] = []
        var consumed = 0
        var start = data.startIndex
        while let nl = data[start...].firstIndex(of: 0x0A) {
            let lineData = data[start..<nl]
            if let text = String(data: lineData, encoding: .utf8), let line = parse(Substring(text)) {
                var payload = Array((timestamps ? line.time + " " : "").utf8) + Array(line.text.utf8)
                if !line.partial { payload.append(0x0A) }
                frames.append(StreamFrame(kind: line.stream, payload: payload))
            }
            start = data.index(after: nl)
            consumed = start - data.startIndex
        }
        return (frames, consumed)
    }

    /// Every logged line, the last `tail` of them if given.
    func read(tail: Int?, timestamps: Bool) -> [StreamFrame] {
        var all: [StreamFrame] = []
        for file in files() {
            guard let data = try? Data(contentsOf: file) else { continue }
            all += Self.frames(from: data, timestamps: timestamps).frames
        }
        if let tail { return Array(all.suffix(max(0, tail))) }
        return all
    }
}

/// Follows one open log file from an offset, the way `tail -f` does; holding the
/// descriptor lets a reader finish a log whose container was removed meanwhile.
final class LogFollower: @unchecked Sendable {
    private let path: URL
    private var handle: FileHandle
    private var inode: UInt64
    private var pending = Data()
    private let timestamps: Bool

    init(path: URL, fromEnd: Bool, timestamps: Bool) throws {
        self.path = path
        handle = try FileHandle(forReadingFrom: path)
        inode = Self.inode(of: handle.fileDescriptor) ?? 0
        if fromEnd { _ = try handle.seekToEnd() }
        self.timestamps = timestamps
    }

    private static func inode(of fd: Int32) -> UInt64? {
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    /// Frames for whatever complete lines were appended since the last call; when the
    /// shim has rotated the file, continues in the new one.
    func poll() -> [StreamFrame] {
        var frames = drain()
        if frames.isEmpty, let fresh = try? FileHandle(forReadingFrom: path),
           let freshInode = Self.inode(of: fresh.fileDescriptor), freshInode != inode {
            try? handle.close()
            handle = fresh; inode = freshInode; pending.removeAll()
            frames = drain()
        }
        return frames
    }

    private func drain() -> [StreamFrame] {
        guard let data = try? handle.readToEnd(), !data.isEmpty else { return [] }
        pending.append(data)
        let (frames, consumed) = ContainerLog.frames(from: pending, timestamps: timestamps)
        pending.removeFirst(consumed)
        return frames
    }

    deinit { try? handle.close() }
}

import CArchive
import Foundation
import PierOCI
@testable import PierImage

/// A temporary directory removed when the value goes away.
final class TempDir: @unchecked Sendable {
    let url: URL
    init(_ label: String = "pier-image-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ relative: String) -> URL { url.appendingPathComponent(relative) }
}

/// One entry of a tar built by python's tarfile (which happily writes hostile entries).
struct TarEntry: Encodable {
    var name: String
    var type: String = "file"   // file, dir, symlink, hardlink, fifo, chr, blk
    var data: String? = nil
    var mode: Int? = nil
    var uid: Int? = nil
    var gid: Int? = nil
    var mtime: Int? = nil
    var linkname: String? = nil
    var xattrs: [String: String]? = nil
    var size: Int? = nil        // for "file": this many zero bytes instead of data

    static func file(_ name: String, _ data: String = "", mode: Int = 0o644, uid: Int = 0, gid: Int = 0, mtime: Int = 1_700_000_000, xattrs: [String: String]? = nil) -> TarEntry {
        TarEntry(name: name, type: "file", data: data, mode: mode, uid: uid, gid: gid, mtime: mtime, xattrs: xattrs)
    }
    static func dir(_ name: String, mode: Int = 0o755, uid: Int = 0, gid: Int = 0, mtime: Int = 1_700_000_000) -> TarEntry {
        TarEntry(name: name, type: "dir", mode: mode, uid: uid, gid: gid, mtime: mtime)
    }
    static func symlink(_ name: String, to target: String) -> TarEntry {
        TarEntry(name: name, type: "symlink", mode: 0o777, linkname: target)
    }
    static func hardlink(_ name: String, to target: String) -> TarEntry {
        TarEntry(name: name, type: "hardlink", linkname: target)
    }
}

enum Tools {
    /// Runs a program, returning its stdout; throws with stderr when it fails.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], input: Data? = nil, cwd: URL? = nil) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let cwd { process.currentDirectoryURL = cwd }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let inPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try process.run()
        // Feed stdin and drain stderr on other threads, so no pipe fills up and blocks the tool.
        let group = DispatchGroup()
        if let input {
            let writer = inPipe.fileHandleForWriting
            DispatchQueue.global().async(group: group) {
                writer.write(input)
                try? writer.close()
            }
        }
        nonisolated(unsafe) var errors = Data()
        let errReader = err.fileHandleForReading
        DispatchQueue.global().async(group: group) { errors = errReader.readDataToEndOfFile() }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ToolFailure(command: ([executable] + arguments).joined(separator: " "),
                              status: process.terminationStatus, stderr: String(decoding: errors, as: UTF8.self))
        }
        return output
    }

    struct ToolFailure: Error, CustomStringConvertible {
        var command: String
        var status: Int32
        var stderr: String
        var description: String { "\(command) exited \(status): \(stderr)" }
    }

    static let tarScript = """
    import json, sys, tarfile, io
    spec = json.load(open(sys.argv[1]))
    with tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as t:
        for e in spec:
            ti = tarfile.TarInfo(e["name"])
            kind = e.get("type", "file")
            ti.mode = e.get("mode") if e.get("mode") is not None else 0o644
            ti.uid = e.get("uid") or 0
            ti.gid = e.get("gid") or 0
            ti.mtime = e.get("mtime") or 1700000000
            if e.get("xattrs"):
                ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in e["xattrs"].items()}
            data = None
            if kind == "file":
                ti.type = tarfile.REGTYPE
                if e.get("size") is not None:
                    data = b"\\0" * e["size"]
                else:
                    data = (e.get("data") or "").encode()
                ti.size = len(data)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE; ti.linkname = e["linkname"]
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE; ti.linkname = e["linkname"]
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            elif kind == "chr":
                ti.type = tarfile.CHRTYPE; ti.devmajor = 1; ti.devminor = 3
            elif kind == "blk":
                ti.type = tarfile.BLKTYPE; ti.devmajor = 8; ti.devminor = 0
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    """

    /// Writes a tar of `entries` to `output` with python's tarfile.
    static func makeTar(_ entries: [TarEntry], at output: URL) throws {
        let dir = output.deletingLastPathComponent()
        let spec = dir.appendingPathComponent(".spec-\(UUID().uuidString).json")
        let script = dir.appendingPathComponent(".maketar-\(UUID().uuidString).py")
        defer {
            try? FileManager.default.removeItem(at: spec)
            try? FileManager.default.removeItem(at: script)
        }
        try JSONEncoder().encode(entries).write(to: spec)
        try tarScript.write(to: script, atomically: true, encoding: .utf8)
        try run("/usr/bin/python3", [script.path, spec.path, output.path])
    }

    /// Compresses a file in place with gzip or zstd; returns the new file.
    static func compress(_ file: URL, _ compression: MediaType.Compression) throws -> URL {
        switch compression {
        case .uncompressed: return file
        case .gzip:
            try run("/usr/bin/gzip", ["-n", "-k", "-f", file.path])
            return URL(fileURLWithPath: file.path + ".gz")
        case .zstd:
            try run("/usr/bin/zstd", ["-q", "-f", file.path, "-o", file.path + ".zst"])
            return URL(fileURLWithPath: file.path + ".zst")
        }
    }

    static func sha256(_ file: URL) throws -> Digest {
        try LocalContentStore.hashFile(file).digest
    }

    static func size(_ file: URL) throws -> Int64 {
        (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.int64Value ?? -1
    }

    /// A layer descriptor for a blob on disk.
    static func descriptor(_ file: URL, _ mediaType: String = MediaType.ociLayerTar) throws -> Descriptor {
        Descriptor(mediaType: mediaType, digest: try sha256(file), size: try size(file))
    }

    static func lstat(_ url: URL) -> stat? {
        var st = stat()
        return Glibc.lstat(url.path, &st) == 0 ? st : nil
    }

    static func xattr(_ url: URL, _ name: String) -> String? {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = lgetxattr(url.path, name, &buffer, buffer.count)
        return n < 0 ? nil : String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// Every path under `root`, relative, sorted (links not followed).
    static func listing(_ root: URL) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: root.path) else { return [] }
        return (e.allObjects as? [String] ?? []).sorted()
    }
}

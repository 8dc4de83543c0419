import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a server keeps the bound below which it may have used its own OSCORE sequence numbers,
/// per security context: `DIR/oscore-sequence.json`, mode 600 in a directory of mode 700,
/// replaced atomically (write, fsync, rename, fsync the directory) before a reserved number is
/// used, so a crash at any moment leaves the old bound or the new one, never less.
///
///     {"reserved":{"3f1c…":512,"9a0b…":256},"version":1}
///
/// A file that exists but does not read is an error, not an empty file: starting from zero would
/// reuse nonces.
public struct OSCORESequenceFile: Sendable {
    public let path: String

    struct Contents: Codable {
        var version: Int
        var reserved: [String: UInt64]
    }

    /// The file in `directory`, which is created (mode 700) if missing.
    public init(directory: String) throws(OSCOREError) {
        var info = stat()
        if stat(directory, &info) != 0 {
            guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
                throw .sequenceUnavailable("cannot create \(directory): \(String(cString: strerror(errno)))")
            }
        } else if info.st_mode & 0o077 != 0 {
            chmod(directory, 0o700)
        }
        path = directory + "/oscore-sequence.json"
    }

    /// The reserved bounds by context fingerprint; empty if the file does not exist yet.
    public func load() throws(OSCOREError) -> [String: UInt64] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .sequenceUnavailable("\(path) exists but cannot be read; fix its permissions (it must not be deleted: nonces would repeat)")
        }
        do {
            let contents = try JSONDecoder().decode(Contents.self, from: data)
            guard contents.version == 1 else { throw OSCOREError.sequenceUnavailable("\(path) has version \(contents.version); expected 1") }
            return contents.reserved
        } catch let e as OSCOREError {
            throw e
        } catch {
            throw .sequenceUnavailable("\(path) is not a sequence file (\(error)); restore it from a backup, or, if every client gets a new key, remove it")
        }
    }

    /// Replaces the file with `reserved`, durably, before returning.
    public func save(_ reserved: [String: UInt64]) throws(OSCOREError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(Contents(version: 1, reserved: reserved)) else {
            throw .sequenceUnavailable("cannot encode the sequence file")
        }
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .sequenceUnavailable("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced else {
            unlink(temporary)
            throw .sequenceUnavailable("cannot write \(temporary) durably: \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            throw .sequenceUnavailable("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}

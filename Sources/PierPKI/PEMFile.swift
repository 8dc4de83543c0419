import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and atomically writing the PEM files of the cluster PKI.
enum PEMFile {
    /// Mode for private keys: readable by the owner only.
    static let privateMode: mode_t = 0o600
    /// Mode for certificates.
    static let publicMode: mode_t = 0o644

    static func read(_ path: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PKIError.unreadableFile(path: path, reason: "\(error.localizedDescription)")
        }
    }

    /// Every certificate in a PEM file, in order; at least one.
    static func certificates(at path: String) throws -> [Certificate] {
        do { return try certificates(pem: try read(path), what: path) } catch let PKIError.malformed(_, reason) {
            throw PKIError.unreadableFile(path: path, reason: reason)
        }
    }

    /// Every certificate in a PEM text, in order; at least one.
    static func certificates(pem text: String, what: String) throws -> [Certificate] {
        let certificates: [Certificate]
        do {
            certificates = try PEMDocument.parseMultiple(pemString: text).map { try Certificate(pemDocument: $0) }
        } catch {
            throw PKIError.malformed(what: what, reason: "not PEM certificates (\(error))")
        }
        guard !certificates.isEmpty else { throw PKIError.malformed(what: what, reason: "no certificate in it") }
        return certificates
    }

    /// Writes `contents` to a temporary file created with `mode` beside `path`, syncs it and renames
    /// it over `path`, so a reader sees the old file or the new one and a key is never world-readable.
    static func write(_ contents: String, to path: String, mode: mode_t) throws {
        try write(bytes: Array(contents.utf8), to: path, mode: mode)
    }

    static func write(bytes: [UInt8], to path: String, mode: mode_t) throws {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw PKIError.unwritableFile(path: path, reason: String(cString: strerror(errno)))
        }
        var failure: String?
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { systemWrite(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno))
                break
            }
            written += n
        }
        // The umask may have narrowed the mode at creation; set it exactly.
        if failure == nil, fchmod(fd, mode) != 0 { failure = String(cString: strerror(errno)) }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary)
            throw PKIError.unwritableFile(path: path, reason: failure)
        }
    }

    private static func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, buffer, count)
        #elseif canImport(Musl)
        return Musl.write(fd, buffer, count)
        #else
        return Darwin.write(fd, buffer, count)
        #endif
    }

    static func path(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

extension Certificate {
    /// Every certificate of a PEM text (a certificate and its intermediates, a bundle of roots),
    /// in order; at least one.
    public static func all(pem text: String, what: String = "PEM text") throws -> [Certificate] {
        try PEMFile.certificates(pem: text, what: what)
    }
}

/// Files only their owner may read: keys, tokens, the lists of revoked certificates, databases.
public enum SecretFile {
    /// Writes `data` atomically: created 0600 beside its place, synced, renamed over it.
    public static func write(_ data: Data, to url: URL) throws {
        try PEMFile.write(bytes: Array(data), to: url.path, mode: PEMFile.privateMode)
    }

    /// Makes an SQLite database at `url` private before it is opened: creates it 0600 if absent,
    /// and sets 0600 on it and on its `-wal` and `-shm` files (SQLite gives those the database's
    /// mode, and an older version left them 0644).
    public static func prepareDatabase(_ url: URL) throws {
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, PEMFile.privateMode)
        guard fd >= 0 else { throw PKIError.unwritableFile(path: url.path, reason: String(cString: strerror(errno))) }
        close(fd)
        for path in [url.path, url.path + "-wal", url.path + "-shm"] where access(path, F_OK) == 0 {
            guard chmod(path, PEMFile.privateMode) == 0 else {
                throw PKIError.unwritableFile(path: path, reason: "chmod 600: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Makes a daemon's data root private: creates it 0700, sets 0700 on every start (an older
    /// version made it 0755), and refuses one that another user owns (it could swap files under us).
    public static func secureDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw PKIError.unwritableFile(path: url.path, reason: "\(error.localizedDescription)")
        }
        var info = stat()
        guard stat(url.path, &info) == 0 else {
            throw PKIError.unwritableFile(path: url.path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw PKIError.unwritableFile(path: url.path, reason: "not a directory")
        }
        guard info.st_uid == geteuid() else {
            throw PKIError.unwritableFile(
                path: url.path, reason: "owned by uid \(info.st_uid), not by this daemon's user (uid \(geteuid())); refusing to keep secrets there")
        }
        guard chmod(url.path, 0o700) == 0 else {
            throw PKIError.unwritableFile(path: url.path, reason: "chmod 700: \(String(cString: strerror(errno)))")
        }
    }
}

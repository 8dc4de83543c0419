import Crypto
import Foundation

/// The node's WireGuard key pair (X25519), made on the node. The private key stays in
/// `<dataRoot>/mesh/private.key` (mode 0600, base64 as `wg genkey` writes it) and is never sent
/// anywhere; the public key goes to the manager in the hello.
public struct MeshKey: Sendable {
    /// Base64 of the 32-byte private key, WireGuard's encoding.
    let privateKey: String
    /// Base64 of the 32-byte public key.
    public let publicKey: String

    /// The stored key, or a new one stored first (kept across restarts).
    public static func loadOrCreate(at url: URL) throws(MeshError) -> MeshKey {
        let fm = FileManager.default
        if fm.fileExists(atPath: url.path) {
            guard let data = fm.contents(atPath: url.path) else { throw .badKey(path: url.path, reason: "cannot be read") }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let raw = Data(base64Encoded: text), raw.count == 32,
                let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw)
            else { throw .badKey(path: url.path, reason: "is not the base64 of a 32-byte key") }
            return MeshKey(key)
        }
        let key = Curve25519.KeyAgreement.PrivateKey()
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try MeshFiles.write(Data((key.rawRepresentation.base64EncodedString() + "\n").utf8), to: url, mode: 0o600)
        } catch {
            throw .storage("cannot store the mesh private key in \(url.path): \(error)")
        }
        return MeshKey(key)
    }

    init(_ key: Curve25519.KeyAgreement.PrivateKey) {
        privateKey = key.rawRepresentation.base64EncodedString()
        publicKey = key.publicKey.rawRepresentation.base64EncodedString()
    }

    /// Whether `text` is a WireGuard key: base64 of exactly 32 bytes (44 characters).
    public static func isValidKey(_ text: String) -> Bool {
        text.utf8.count == 44 && Data(base64Encoded: text)?.count == 32
    }
}

/// Files the mesh writes: whole or not at all (a temporary file renamed over the old one), with
/// their mode set at creation.
enum MeshFiles {
    static func write(_ data: Data, to url: URL, mode: mode_t) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw MeshError.storage("cannot create \(temporary.path): \(String(cString: strerror(errno)))") }
        var ok = fchmod(fd, mode) == 0
        data.withUnsafeBytes { buffer in
            var offset = 0
            while ok && offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 { if errno == EINTR { continue }; ok = false } else { offset += n }
            }
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw MeshError.storage("cannot write \(url.path): \(reason)")
        }
    }

    static func readJSON<T: Decodable>(_ type: T.Type, from url: URL) throws -> T? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do { return try JSONDecoder().decode(T.self, from: Data(contentsOf: url)) } catch {
            throw MeshError.storage("cannot read \(url.path): \(error)")
        }
    }

    static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        let encoder = JSONEncoder()
        // No .sortedKeys: it would keep ICU's collation data resident in the agent (see CNINetwork).
        encoder.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes]
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try write(try encoder.encode(value), to: url, mode: 0o600)
    }
}

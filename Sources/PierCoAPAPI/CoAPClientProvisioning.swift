import Foundation
import PierOSCORE

/// Makes a new CoAP client (`pier coap client create`): a fresh OSCORE context, its entry
/// appended to the keys file, and the client's side written where aiocoap-client reads it.
public enum CoAPClientProvisioning {
    /// The daemon's sender ID in every context this makes; client IDs are two random bytes, so
    /// the two never collide.
    static let serverID: [UInt8] = [0x01]

    /// Adds a client called `name` to the keys file at `keysPath` (created if missing) with a
    /// random 32-byte master secret, an 8-byte master salt and a client ID no other client uses.
    /// The file is replaced atomically, mode 600; a file that does not read is left alone.
    public static func addClient(name: String, scope: CoAPKeysFile.Scope, keysPath: String) throws(ConstrainedAPIError) -> CoAPKeysFile.Entry {
        var file = CoAPKeysFile()
        if FileManager.default.fileExists(atPath: keysPath) {
            guard let data = FileManager.default.contents(atPath: keysPath) else { throw .invalid("\(keysPath): cannot read it") }
            file = try CoAPKeysFile.decode(data, source: keysPath)
        }
        guard !file.clients.contains(where: { $0.name == name }) else {
            throw .invalid("\(keysPath): a client called \(name) exists; pick another name or delete its entry first")
        }
        var random = SystemRandomNumberGenerator()
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &random) } }
        let taken = Set(file.clients.compactMap { $0.oscore.map(\.clientID) })
        var clientID = CoAPKeysFile.hex(bytes(2))
        while taken.contains(clientID) { clientID = CoAPKeysFile.hex(bytes(2)) }
        let entry = CoAPKeysFile.Entry(
            name: name,
            oscore: .init(
                masterSecret: CoAPKeysFile.hex(bytes(32)), masterSalt: CoAPKeysFile.hex(bytes(8)), clientID: clientID,
                serverID: CoAPKeysFile.hex(serverID)),
            scope: scope)
        file.clients.append(entry)
        let data: Data
        do { data = try file.encoded() } catch { throw .failed("cannot encode \(keysPath): \(error)") }
        // The whole file must still load (scope values, IDs), tokens aside: those load only with the flag.
        _ = try CoAPAccessKeys.parse(data, source: keysPath, allowTokens: true)
        try writePrivately(data, to: keysPath)
        return entry
    }

    /// Writes the client's side of `entry` for aiocoap (its `--credentials` file and OSCORE
    /// context directory) into `directory`: `credentials.json` maps `uriPattern` to
    /// `oscore/`, whose `settings.json` (mode 600) holds the keys. aiocoap keeps its sequence
    /// number there too, so the directory must stay writable and must not be copied to a
    /// second client. Returns the credentials file's path.
    public static func writeAiocoapClient(_ entry: CoAPKeysFile.Entry, to directory: String, uriPattern: String) throws(ConstrainedAPIError)
        -> String
    {
        guard let o = entry.oscore else { throw .invalid("client \(entry.name) has no OSCORE context") }
        let dir = URL(fileURLWithPath: directory).standardizedFileURL
        let context = dir.appendingPathComponent("oscore")
        let existed = FileManager.default.fileExists(atPath: dir.path)
        do {
            try FileManager.default.createDirectory(at: context, withIntermediateDirectories: true)
        } catch {
            throw .failed("cannot create \(context.path): \(error)")
        }
        if !existed { chmod(dir.path, 0o700) }
        chmod(context.path, 0o700)
        var settings: [String: String] = [
            "sender-id_hex": o.clientID, "recipient-id_hex": o.serverID, "secret_hex": o.masterSecret,
        ]
        if let salt = o.masterSalt { settings["salt_hex"] = salt }
        if let idContext = o.idContext { settings["id-context_hex"] = idContext }
        let credentials = [uriPattern: ["oscore": ["basedir": context.path + "/"]]]
        let encode = { (value: Any) throws(ConstrainedAPIError) -> Data in
            guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            else { throw .failed("cannot encode the aiocoap files") }
            return data + Data("\n".utf8)
        }
        try writePrivately(try encode(settings), to: context.appendingPathComponent("settings.json").path)
        let credentialsPath = dir.appendingPathComponent("credentials.json").path
        try writePrivately(try encode(credentials), to: credentialsPath)
        return credentialsPath
    }

    /// Replaces `path` with `data`: a mode-600 temporary file beside it, fsynced, renamed over it.
    static func writePrivately(_ data: Data, to path: String) throws(ConstrainedAPIError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .failed("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .failed("cannot write \(path): \(reason)")
        }
    }
}

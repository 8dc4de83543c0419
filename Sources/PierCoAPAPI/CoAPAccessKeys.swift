import Crypto
import Foundation
import PierCoAP

/// Who may use the constrained interface: one pre-shared token per client, read from a file.
///
///     # client      token (≥ 16 characters)              access (rw: default, ro: GET and observe only)
///     sensor-12     6f1d0c3b9a8e47d2b5f0a1c6e9d3b7a4
///     dashboard     0b8e2f4a6c1d3e5f7a9b0c2d4e6f8a1b     ro
///
/// A request carries its token in the `Pier-Auth` option (65001, from the experimental range of
/// RFC 7252 §12.2; critical, so a server that does not know it refuses the request instead of
/// ignoring it): `coap-client-notls -O 65001,TOKEN …`.
///
/// Limits, stated plainly: without DTLS or OSCORE the token travels in clear over UDP, so anyone
/// who can see the link can read and replay it. Use it on a trusted segment (the gateway's own
/// sensor network, a VPN), give every client its own token so one can be revoked by deleting its
/// line, and use `ro` tokens where a client only reads.
public struct CoAPAccessKeys: Sendable {
    public static let option = CoAPOptionNumber(65001)

    public enum Access: String, Sendable { case readOnly = "ro", readWrite = "rw" }

    public struct Client: Sendable, Equatable {
        public var name: String
        public var access: Access
    }

    private let clients: [(digest: [UInt8], client: Client)]

    /// Every client name, for logs.
    public var clientNames: [String] { clients.map(\.client.name) }

    public init(entries: [(name: String, token: String, access: Access)]) {
        clients = entries.map { (Array(SHA256.hash(data: Array($0.token.utf8))), Client(name: $0.name, access: $0.access)) }
    }

    /// Reads a keys file. It must be readable by its owner only (like an ssh key): a token others
    /// can read is no secret.
    public static func load(_ path: String) throws(ConstrainedAPIError) -> CoAPAccessKeys {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .invalid("--coap-keys \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw .invalid("--coap-keys \(path): group or others may read it (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .invalid("--coap-keys \(path): not a readable UTF-8 text file")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws(ConstrainedAPIError) -> CoAPAccessKeys {
        var entries: [(name: String, token: String, access: Access)] = []
        var names = Set<String>(), tokens = Set<String>()
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if fields.isEmpty { continue }
            let at = "\(source):\(index + 1)"
            guard fields.count == 2 || fields.count == 3 else { throw .invalid("\(at): expected CLIENT TOKEN [ro|rw]") }
            guard fields[1].count >= 16, fields[1].utf8.count <= 255 else {
                throw .invalid("\(at): the token of \(fields[0]) must be 16 to 255 bytes (e.g. openssl rand -hex 16)")
            }
            guard let access = fields.count == 3 ? Access(rawValue: fields[2]) : .readWrite else {
                throw .invalid("\(at): access \"\(fields[2])\" is not ro or rw")
            }
            guard names.insert(fields[0]).inserted else { throw .invalid("\(at): client \(fields[0]) is listed twice") }
            guard tokens.insert(fields[1]).inserted else { throw .invalid("\(at): two clients share one token") }
            entries.append((fields[0], fields[1], access))
        }
        guard !entries.isEmpty else { throw .invalid("\(source): no clients; add a line CLIENT TOKEN [ro|rw]") }
        return CoAPAccessKeys(entries: entries)
    }

    /// The client whose token the request carries, compared in constant time; nil if none matches.
    public func client(for message: CoAPMessage) -> Client? {
        guard let value = message.option(Self.option)?.value else { return nil }
        let digest = Array(SHA256.hash(data: value))
        var found: Client?
        for entry in clients {
            var difference: UInt8 = 0
            for (a, b) in zip(entry.digest, digest) { difference |= a ^ b }
            if difference == 0 { found = entry.client }
        }
        return found
    }
}

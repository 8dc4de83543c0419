import Foundation
import NIOCore
import NIOPosix
import PierCoAP
import PierOSCORE

extension Peers {
    static let aiocoapOSCOREMissing =
        "aiocoap's OSCORE extras are not installed for python3; run scripts/setup.sh --no-build (pip install 'aiocoap[oscore]')"
    /// aiocoap with what its OSCORE needs (cbor2, cryptography, filelock).
    static let hasAiocoapOSCORE: Bool = {
        guard let python else { return false }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", "import aiocoap.oscore, aiocoap.oscore_sitewrapper, aiocoap.cli.client"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()
}

/// One OSCORE context shared by a client and a server: fresh random keys per test, and writers
/// for aiocoap's context directory (`settings.json`) and credentials file.
struct OSCOREKeys {
    let secret: [UInt8]
    let salt: [UInt8]
    let clientID: [UInt8] = [0x0C, 0x01]
    let serverID: [UInt8] = [0x01]

    init() {
        var rng = SystemRandomNumberGenerator()
        secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        salt = (0..<8).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    func serverContext() throws -> OSCORESecurityContext {
        try OSCORESecurityContext(masterSecret: secret, masterSalt: salt, senderID: serverID, recipientID: clientID)
    }

    func clientContext() throws -> OSCORESecurityContext {
        try OSCORESecurityContext(masterSecret: secret, masterSalt: salt, senderID: clientID, recipientID: serverID)
    }

    static func hex(_ b: [UInt8]) -> String { b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    /// An aiocoap context directory for the client side (or the server side with `asServer`).
    func writeAiocoapContext(to dir: URL, asServer: Bool = false) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let settings: [String: String] = [
            "sender-id_hex": Self.hex(asServer ? serverID : clientID), "recipient-id_hex": Self.hex(asServer ? clientID : serverID),
            "secret_hex": Self.hex(secret), "salt_hex": Self.hex(salt),
        ]
        try JSONSerialization.data(withJSONObject: settings).write(to: dir.appendingPathComponent("settings.json"))
    }

    /// A credentials file that uses the context in `contextDir` for every URI matching `pattern`.
    static func writeCredentials(_ file: URL, pattern: String, contextDir: URL) throws {
        let credentials = [pattern: ["oscore": ["basedir": contextDir.path + "/"]]]
        try JSONSerialization.data(withJSONObject: credentials).write(to: file)
    }
}

/// Sends raw datagrams from a socket of its own and collects what comes back: to replay a
/// captured request from somewhere the server has not seen.
enum RawUDP {
    static func exchange(_ bytes: [UInt8], to server: SocketAddress, wait: Double = 1.5) async throws -> [CoAPMessage] {
        let received = ReceivedDatagrams()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Collector(received)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: buffer))
        try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
        try await channel.close()
        return received.all.compactMap { try? CoAPMessage(decoding: $0) }
    }

    final class ReceivedDatagrams: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [[UInt8]] = []
        func append(_ b: [UInt8]) { lock.lock(); items.append(b); lock.unlock() }
        var all: [[UInt8]] { lock.lock(); defer { lock.unlock() }; return items }
    }

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let received: ReceivedDatagrams
        init(_ received: ReceivedDatagrams) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received.append(Array(unwrapInboundIn(data).data.readableBytesView))
        }
    }
}

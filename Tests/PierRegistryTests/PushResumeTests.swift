import Foundation
import Hummingbird
import PierOCI
import Synchronization
import Testing
@testable import PierRegistry

/// A TCP relay on 127.0.0.1 that cuts its first connection after `cutAfter` bytes from the
/// client, as a flaky link would; later connections pass untouched.
final class CuttingProxy: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let cutAfter: Int
    private let connections = Mutex(0)
    private let upstream: Int

    init(upstream: Int, cutAfter: Int) throws {
        self.upstream = upstream
        self.cutAfter = cutAfter
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && listen(fd, 16) == 0 }
        }
        guard bound else {
            Glibc.close(fd)
            throw TestFailure("proxy bind failed")
        }
        var local = sockaddr_in()
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listener = fd
        port = Int(UInt16(bigEndian: local.sin_port))
    }

    /// Starts accepting; call once.
    func start() {
        Thread { [self] in acceptLoop() }.start()
    }

    var connectionCount: Int { connections.withLock { $0 } }

    func close() { shutdown(listener, Int32(SHUT_RDWR)); Glibc.close(listener) }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let first = connections.withLock { $0 += 1; return $0 == 1 }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = UInt16(upstream).bigEndian
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard ok == 0 else { Glibc.close(client); Glibc.close(server); continue }
            let limit = first ? cutAfter : Int.max
            Thread { Self.relay(from: client, to: server, limit: limit, peer: client) }.start()
            Thread { Self.relay(from: server, to: client, limit: Int.max, peer: server) }.start()
        }
    }

    /// Copies bytes until EOF or `limit`; at the limit both sockets are torn down.
    private static func relay(from: Int32, to: Int32, limit: Int, peer: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        var total = 0
        while true {
            let n = read(from, &buffer, min(buffer.count, max(1, limit - total)))
            if n <= 0 { break }
            _ = buffer.withUnsafeBytes { write(to, $0.baseAddress, n) }
            total += n
            if total >= limit { break }
        }
        shutdown(from, Int32(SHUT_RDWR))
        shutdown(to, Int32(SHUT_RDWR))
    }
}

@Suite("Push over a connection that breaks")
struct PushResumeTests {
    @Test("a push cut off mid-blob asks the registry where it stands and continues from there")
    func resumesAfterACut() async throws {
        let source = try Stores()
        let image = try await storeImage("edge/app:1", layerSizes: [600_000], withIndex: false, in: source)
        let target = try Stores()
        try await withRegistry(target, configuration: .init(push: .init())) { base in
            // Cut the first connection well inside the layer's upload (chunks of 64 KiB).
            let proxy = try CuttingProxy(upstream: base.port ?? 0, cutAfter: 300_000)
            proxy.start()
            defer { proxy.close() }
            let via = try #require(URL(string: "http://127.0.0.1:\(proxy.port)"))
            var configuration = RegistryClient.Configuration()
            configuration.uploadChunkBytes = 64 << 10
            let client = try RegistryClient(baseURL: via, content: source.content, images: source.images, configuration: configuration)
            let result: PushResult
            do {
                result = try await client.push(image.reference, repository: "edge/app", tag: "1")
                try await client.shutdown()
            } catch {
                try? await client.shutdown()
                throw error
            }
            #expect(proxy.connectionCount >= 2)
            #expect(result.digest == image.manifest)
            // The cut chunk is sent again, nothing before it: less than the layer plus one chunk twice.
            let blobBytes = image.config.size + image.layers[0].size
            #expect(result.uploadedBytes >= blobBytes && result.uploadedBytes < blobBytes + 2 * (64 << 10), "\(result.uploadedBytes)")
            try await target.content.verify(image.layers[0].digest)
            #expect(await target.images.list().first?.manifest == image.manifest)
        }
    }
}

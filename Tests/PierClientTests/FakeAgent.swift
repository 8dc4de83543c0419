import Foundation
import PierClient
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 server on a unix socket in a temp directory, standing in for `pier agent`:
/// it records each request and answers with what the test's handler returns.
final class FakeAgent: @unchecked Sendable {
    struct Request: Sendable {
        var method: String
        var target: String
        var headers: [String: String]
        var body: [UInt8]
    }

    struct Response: Sendable {
        var status: Int
        var contentType: String
        /// Written one `write` call each, with a short pause between, so the client sees several reads.
        var chunks: [[UInt8]]
        var headers: [String: String] = [:]

        static func json(_ text: String, status: Int = 200) -> Response {
            Response(status: status, contentType: "application/json", chunks: [Array(text.utf8)])
        }
        static let noContent = Response(status: 204, contentType: "application/json", chunks: [])
    }

    let directory: String
    let socketPath: String
    private let listener: Int32
    private let handler: @Sendable (Request) -> Response
    private let lock = NSLock()
    private var recorded: [Request] = []
    private var problems: [String] = []

    /// Why connections ended early, for diagnosing a failed test.
    var connectionProblems: [String] { lock.withLock { problems } }

    private func problem(_ text: String) { lock.withLock { problems.append(text + " (errno \(errno))") } }
    private let done = DispatchSemaphore(value: 0)

    init(_ handler: @escaping @Sendable (Request) -> Response) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pier-client-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socketPath = directory + "/agent.sock"
        self.handler = handler
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in socketPath.utf8.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: socketPath])
        }
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    /// Requests received so far.
    var requests: [Request] { lock.withLock { recorded } }

    /// Stops listening and removes the temp directory.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        done.wait()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func serve() {
        defer { done.signal() }
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            handle(connection)
            close(connection)
        }
    }

    /// Serves requests on one connection until the client closes it (keep-alive, as the real agent).
    private func handle(_ fd: Int32) {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() -> Bool {
            let n = Self.readRetrying(fd, &chunk)
            if n <= 0 { return false }
            buffer += chunk[..<n]
            return true
        }
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            var headerEnd: Int?
            while headerEnd == nil {
                if let range = buffer.firstRange(of: separator) { headerEnd = range.upperBound; break }
                if !fill() {
                    if !buffer.isEmpty { problem("connection ended in the request head after \(buffer.count) bytes") }
                    return
                }
            }
            guard let headerEnd else { return }
            let head = String(decoding: buffer[..<(headerEnd - 4)], as: UTF8.self).components(separatedBy: "\r\n")
            let requestLine = head[0].split(separator: " ")
            var headers: [String: String] = [:]
            for line in head.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            buffer.removeFirst(headerEnd)
            var body: [UInt8] = []
            if let length = headers["content-length"].flatMap(Int.init) {
                while buffer.count < length {
                    if !fill() { problem("connection ended after \(buffer.count) of \(length) body bytes"); return }
                }
                body = Array(buffer[..<length])
                buffer.removeFirst(length)
            } else if headers["transfer-encoding"] == "chunked" {
                body = readChunked(fd: fd, buffer: &buffer)
            }
            let request = Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body)
            lock.withLock { recorded.append(request) }
            let response = handler(request)
            var out = "HTTP/1.1 \(response.status) X\r\nContent-Type: \(response.contentType)\r\n"
            for (name, value) in response.headers { out += "\(name): \(value)\r\n" }
            out += response.status == 204 ? "\r\n" : "Transfer-Encoding: chunked\r\n\r\n"
            writeAll(fd, Array(out.utf8))
            guard response.status != 204 else { continue }
            for part in response.chunks where !part.isEmpty {
                writeAll(fd, Array(String(part.count, radix: 16).utf8) + [13, 10] + part + [13, 10])
                usleep(2000)
            }
            writeAll(fd, Array("0\r\n\r\n".utf8))
        }
    }

    /// Decodes a chunked request body, reading more from `fd` as needed; leftovers stay in `buffer`.
    private func readChunked(fd: Int32, buffer: inout [UInt8]) -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        var body: [UInt8] = []
        while true {
            while buffer.firstRange(of: [13, 10]) == nil {
                let n = Self.readRetrying(fd, &chunk)
                if n <= 0 { return body }
                buffer += chunk[..<n]
            }
            guard let lineEnd = buffer.firstRange(of: [13, 10]) else { return body }
            let size = Int(String(decoding: buffer[..<lineEnd.lowerBound], as: UTF8.self), radix: 16) ?? 0
            while buffer.count < lineEnd.upperBound + size + 2 {
                let n = Self.readRetrying(fd, &chunk)
                if n <= 0 { return body }
                buffer += chunk[..<n]
            }
            body += buffer[lineEnd.upperBound..<(lineEnd.upperBound + size)]
            buffer.removeFirst(lineEnd.upperBound + size + 2)
            if size == 0 { return body }
        }
    }

    /// `read`, retried when a signal (SIGCHLD of a `pier` run by a parallel test) interrupts it.
    private static func readRetrying(_ fd: Int32, _ buffer: inout [UInt8]) -> Int {
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            return n
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a client that hangs up early must not kill the test process with SIGPIPE.
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// Collects stdout and stderr of an attached stream.
final class CapturedOutput: @unchecked Sendable, StreamOutput {
    private let lock = NSLock()
    private var out: [UInt8] = []
    private var err: [UInt8] = []
    func writeStdout(_ bytes: [UInt8]) { lock.withLock { out += bytes } }
    func writeStderr(_ bytes: [UInt8]) { lock.withLock { err += bytes } }
    var stdout: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
    var stderr: String { lock.withLock { String(decoding: err, as: UTF8.self) } }
}

extension Array {
    /// The element at `index`; when there is none, a recorded issue and a thrown error, so the
    /// test fails there instead of trapping and taking the whole test process down.
    func required(_ index: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> Element {
        try #require(indices.contains(index) ? self[index] : nil, "no element \(index) among \(count)", sourceLocation: sourceLocation)
    }
}

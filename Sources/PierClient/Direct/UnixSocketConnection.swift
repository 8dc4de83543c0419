import Foundation
import PierAPI

/// One HTTP/1.1 exchange with an agent or manager on its unix socket over a plain blocking
/// socket, without the HTTP client library: starting and stopping that library's event loops
/// costs a command-line client more than the agent's own work for a small request, and every
/// `pier` command is such a client. `Connection: close`, so the answer ends with the connection.
final class UnixSocketConnection {
    let fd: Int32
    let request: String

    /// Connects to `socketPath`; `request` (e.g. `GET /v1/containers`) names the exchange in errors.
    init(socketPath: String, request: String) throws(ClientError) {
        self.request = request
        let endpoint = "unix://" + socketPath
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw .invalidHost(endpoint, reason: "socket path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .transport(request: request, reason: String(cString: strerror(errno))) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw .agentUnreachable(endpoint: endpoint)
        }
        self.fd = fd
    }

    deinit { close(fd) }

    func writeAll(_ bytes: [UInt8]) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: an agent that hangs up is an error to report, not a SIGPIPE.
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .transport(request: request, reason: String(cString: strerror(errno))) }
            offset += n
        }
    }

    /// Sends `method target` with an optional JSON body and returns the status, the lower-cased
    /// headers and the whole body, refusing a body larger than `maxBody`.
    static func exchange(
        socketPath: String, method: String, target: String, json body: Data?, maxBody: Int
    ) throws(ClientError) -> (status: Int, headers: [String: String], body: Data) {
        let what = "\(method) \(target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target)"
        let connection = try UnixSocketConnection(socketPath: socketPath, request: what)
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        try connection.writeAll(Array((head + "\r\n").utf8) + (body.map { Array($0) } ?? []))
        var reader = ResponseReader(fd: connection.fd, request: what)
        let (status, headers) = try reader.readHead()
        var answer = Data()
        // No body after 204 and 304 (RFC 9112 §6.3), whatever the headers say.
        if status == 204 || status == 304 || method == "HEAD" { return (status, headers, answer) }
        while let piece = try reader.nextBodyChunk(headers: headers) {
            answer.append(contentsOf: piece)
            guard answer.count <= maxBody else {
                throw .badResponse(request: what, reason: "answer larger than \(maxBody) bytes")
            }
        }
        return (status, headers, answer)
    }
}

/// Reads an HTTP/1.1 response from a blocking socket: the head, then the body whole or
/// chunk by chunk (chunked transfer coding or a length).
struct ResponseReader {
    let fd: Int32
    let request: String
    private var buffer: [UInt8] = []
    private var remainingInChunk = 0
    private var remainingLength: Int?
    private var finished = false
    static let maxHead = 64 << 10

    init(fd: Int32, request: String) { self.fd = fd; self.request = request }

    /// Reads more bytes; false at the end of the connection.
    private mutating func fill() throws(ClientError) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .transport(request: request, reason: String(cString: strerror(errno))) }
            if n == 0 { return false }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
    }

    private func bad(_ reason: String) -> ClientError { .badResponse(request: request, reason: reason) }

    /// The CRLF-separated lines of a response head. (Plain Swift: Foundation's
    /// `components(separatedBy:)` and `trimmingCharacters(in:)` go through NSString, a
    /// measurable part of the client's time on the activation path.)
    static func lines(_ bytes: ArraySlice<UInt8>) -> [String] {
        var lines: [String] = []
        var start = bytes.startIndex
        var i = start
        while i < bytes.endIndex {
            if bytes[i] == 13, i + 1 < bytes.endIndex, bytes[i + 1] == 10 {
                lines.append(String(decoding: bytes[start..<i], as: UTF8.self))
                i += 2
                start = i
            } else {
                i += 1
            }
        }
        lines.append(String(decoding: bytes[start..<bytes.endIndex], as: UTF8.self))
        return lines
    }

    /// Without leading and trailing spaces and tabs (HTTP's optional white space).
    static func trimmingSpaces(_ text: Substring) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(text[first...last])
    }

    /// Status code and lower-cased header names.
    mutating func readHead() throws(ClientError) -> (Int, [String: String]) {
        let end: Int
        while true {
            if let i = Self.find([13, 10, 13, 10], in: buffer) { end = i; break }
            guard buffer.count < Self.maxHead else { throw bad("response head larger than \(Self.maxHead) bytes") }
            guard try fill() else { throw bad("the agent closed the connection before answering") }
        }
        let lines = Self.lines(buffer[0..<end])
        buffer.removeFirst(end + 4)
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw bad("malformed status line \"\(lines[0])\"")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = Self.trimmingSpaces(line[line.index(after: colon)...])
        }
        if let length = headers["content-length"] {
            guard let n = Int(length), n >= 0 else { throw bad("bad Content-Length \(length)") }
            remainingLength = n
        }
        return (status, headers)
    }

    /// The next piece of the body, nil at its end.
    mutating func nextBodyChunk(headers: [String: String]) throws(ClientError) -> [UInt8]? {
        if finished { return nil }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            if remainingInChunk == 0 {
                let lineEnd: Int
                while true {
                    if let i = Self.find([13, 10], in: buffer) { lineEnd = i; break }
                    guard buffer.count < 1024 else { throw bad("chunk size line too long") }
                    guard try fill() else { throw bad("the connection ended inside the body") }
                }
                let sizeText = String(decoding: buffer[0..<lineEnd], as: UTF8.self).split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
                guard let size = Int(Self.trimmingSpaces(sizeText), radix: 16), size >= 0 else {
                    throw bad("bad chunk size \"\(sizeText)\"")
                }
                buffer.removeFirst(lineEnd + 2)
                if size == 0 { finished = true; return nil }
                remainingInChunk = size + 2  // data and its CRLF
            }
            if buffer.isEmpty { guard try fill() else { throw bad("the connection ended inside a chunk") } }
            let take = min(buffer.count, remainingInChunk)
            var piece = Array(buffer[0..<take])
            buffer.removeFirst(take)
            let dataLeft = remainingInChunk - 2
            remainingInChunk -= take
            // Drop the chunk's trailing CRLF from what is returned.
            if take > dataLeft { piece.removeLast(take - max(dataLeft, 0)) }
            return piece
        }
        if let left = remainingLength {
            if left == 0 { finished = true; return nil }
            if buffer.isEmpty { guard try fill() else { throw bad("the connection ended inside the body") } }
            let take = min(buffer.count, left)
            let piece = Array(buffer[0..<take])
            buffer.removeFirst(take)
            remainingLength = left - take
            return piece
        }
        // Neither: the body runs to the end of the connection.
        if buffer.isEmpty, try !fill() { finished = true; return nil }
        let piece = buffer
        buffer.removeAll()
        return piece
    }

    /// The whole body (for error answers), at most 1 MiB.
    mutating func readWholeBody(headers: [String: String]) throws(ClientError) -> [UInt8] {
        var all: [UInt8] = []
        while let piece = try nextBodyChunk(headers: headers) {
            all += piece
            guard all.count <= 1 << 20 else { break }
        }
        return all
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}

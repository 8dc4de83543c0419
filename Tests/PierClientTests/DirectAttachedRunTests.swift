import PierSpec
import Foundation
import PierAPI
import Testing
@testable import PierClient

/// The plain-socket response reader of the foreground run path, against a peer that splits
/// its answer at awkward places.
@Suite struct DirectAttachedRunTests {
    /// Writes `parts` to one end of a socket pair from another thread, pausing between parts so
    /// the reader sees them arrive separately, and returns the other end.
    func peer(_ parts: [[UInt8]]) -> Int32 {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let writer = fds[1]
        Thread.detachNewThread {
            for part in parts {
                _ = part.withUnsafeBytes { send(writer, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                usleep(200)
            }
            close(writer)
        }
        return fds[0]
    }

    func chunked(_ payload: [UInt8], pieces: Int) -> [UInt8] {
        var out: [UInt8] = []
        let size = max(1, payload.count / pieces)
        var i = 0
        while i < payload.count {
            let piece = payload[i..<min(payload.count, i + size)]
            out += Array(String(piece.count, radix: 16).utf8) + [13, 10] + piece + [13, 10]
            i += size
        }
        return out + Array("0\r\n\r\n".utf8)
    }

    @Test(arguments: [1, 2, 3, 7, 64])
    func decodesAChunkedStreamSplitAnywhere(splitEvery: Int) throws {
        let frames = StreamFrame(kind: .stdout, payload: Array("hello\n".utf8)).encoded()
            + StreamFrame(kind: .stderr, payload: Array("oops\n".utf8)).encoded()
            + StreamFrame(kind: .exit, payload: Array(#"{"exitCode":3}"#.utf8)).encoded()
        let wire = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nPier-Container-Id: abc\r\n\r\n".utf8)
            + chunked(frames, pieces: 4)
        let parts = stride(from: 0, to: wire.count, by: splitEvery).map { Array(wire[$0..<min(wire.count, $0 + splitEvery)]) }
        let fd = peer(parts)
        defer { close(fd) }
        var reader = ResponseReader(fd: fd, request: "test")
        let (status, headers) = try reader.readHead()
        #expect(status == 200)
        #expect(headers["pier-container-id"] == "abc")
        var body: [UInt8] = []
        while let piece = try reader.nextBodyChunk(headers: headers) { body += piece }
        #expect(body == frames)
    }

    @Test func readsAnErrorAnswerWithALength() throws {
        let json = Array(#"{"message":"no such image: x"}"#.utf8)
        let fd = peer([Array("HTTP/1.1 404 Not Found\r\nContent-Length: \(json.count)\r\n\r\n".utf8) + json])
        defer { close(fd) }
        var reader = ResponseReader(fd: fd, request: "test")
        let (status, headers) = try reader.readHead()
        #expect(status == 404)
        #expect(try reader.readWholeBody(headers: headers) == json)
    }

    @Test func refusesAMalformedAnswer() throws {
        let fd = peer([Array("SMTP ready\r\n\r\n".utf8)])
        defer { close(fd) }
        var reader = ResponseReader(fd: fd, request: "test")
        #expect(throws: ClientError.self) { try reader.readHead() }
        let cut = peer([Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc".utf8)])
        defer { close(cut) }
        var short = ResponseReader(fd: cut, request: "test")
        let (_, headers) = try short.readHead()
        #expect(throws: ClientError.self) { while try short.nextBodyChunk(headers: headers) != nil {} }
    }

    @Test func headerValuesLoseTheirSpacesAndTabsOnly() throws {
        let fd = peer([Array("HTTP/1.1 200 OK\r\nX-A: \t spaced out \t\r\nX-Empty:   \r\nx-b:v\r\nnot a header\r\n\r\n".utf8)])
        defer { close(fd) }
        var reader = ResponseReader(fd: fd, request: "test")
        let (status, headers) = try reader.readHead()
        #expect(status == 200)
        #expect(headers == ["x-a": "spaced out", "x-empty": "", "x-b": "v"])
    }

    @Test func anEmptyOrBadChunkSizeLineIsAnError() throws {
        for line in ["\r\n", ";ext\r\n", "zz\r\n", "-1\r\n"] {
            let fd = peer([Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(line)abc".utf8)])
            defer { close(fd) }
            var reader = ResponseReader(fd: fd, request: "test")
            let (_, headers) = try reader.readHead()
            #expect(throws: ClientError.self, "\(line.debugDescription)") { _ = try reader.nextBodyChunk(headers: headers) }
        }
        // A chunk extension after the size is allowed.
        let fd = peer([Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3 ;name=v\r\nabc\r\n0\r\n\r\n".utf8)])
        defer { close(fd) }
        var reader = ResponseReader(fd: fd, request: "test")
        let (_, headers) = try reader.readHead()
        #expect(try reader.readWholeBody(headers: headers) == Array("abc".utf8))
    }

    @Test func aMissingSocketSaysTheAgentIsUnreachable() {
        #expect(throws: ClientError.self) {
            try DirectAttachedRun.run(socketPath: "/nonexistent/pier.sock", request: ContainerSpec(image: "x"),
                                      output: StandardStreams())
        }
    }
}

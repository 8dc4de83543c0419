import Foundation
import PierAPI
import Testing
@testable import PierClient

@Suite("Attached stream decoding")
struct AttachedStreamReaderTests {
    static func exitFrame(_ code: Int32) -> [UInt8] {
        StreamFrame(kind: .exit, payload: Array(#"{"exitCode":\#(code)}"#.utf8)).encoded()
    }

    static let stream: [UInt8] =
        StreamFrame(kind: .stdout, payload: Array("hello\n".utf8)).encoded()
        + StreamFrame(kind: .stderr, payload: Array("warn\n".utf8)).encoded()
        + StreamFrame(kind: .stdout, payload: []).encoded()
        + StreamFrame(kind: .stdout, payload: Array(repeating: 0x41, count: 3000)).encoded()
        + exitFrame(3)

    /// Runs the stream through the reader in chunks of `size` bytes and joins what came out.
    static func decode(chunkSize size: Int) throws -> (stdout: [UInt8], stderr: [UInt8], exit: ContainerExit?) {
        var reader = AttachedStreamReader()
        var out: [UInt8] = [], err: [UInt8] = []
        var exit: ContainerExit?
        var index = 0
        while index < stream.count {
            let chunk = stream[index..<min(index + size, stream.count)]
            index += size
            for event in try reader.receive(chunk) {
                switch event {
                case .stdout(let b): out += b
                case .stderr(let b): err += b
                case .exit(let e): exit = e
                case .error(let m): Issue.record("unexpected error frame \(m)")
                }
            }
        }
        try reader.finish()
        return (out, err, exit)
    }

    @Test(arguments: [1, 2, 7, 8, 9, 100, 4096, 1 << 20])
    func framesSplitAcrossChunksDecodeTheSame(chunkSize: Int) throws {
        let result = try Self.decode(chunkSize: chunkSize)
        #expect(result.stdout == Array("hello\n".utf8) + Array(repeating: 0x41, count: 3000))
        #expect(result.stderr == Array("warn\n".utf8))
        #expect(result.exit == ContainerExit(exitCode: 3))
    }

    @Test func truncatedStreamIsAnError() throws {
        var reader = AttachedStreamReader()
        let frame = StreamFrame(kind: .stdout, payload: Array("partial".utf8)).encoded()
        _ = try reader.receive(frame.dropLast(2))
        #expect(throws: ClientError.self) { try reader.finish() }
    }

    @Test func errorFrameCarriesTheMessage() throws {
        var reader = AttachedStreamReader()
        let events = try reader.receive(StreamFrame(kind: .error, payload: Array("runc failed".utf8)).encoded())
        #expect(events == [.error("runc failed")])
    }

    @Test func unknownFrameKindIsAnError() {
        var reader = AttachedStreamReader()
        #expect(throws: ClientError.self) { try reader.receive([9, 0, 0, 0, 0, 0, 0, 0]) }
    }

    @Test func malformedExitFrameIsAnError() {
        var reader = AttachedStreamReader()
        #expect(throws: ClientError.self) { try reader.receive(StreamFrame(kind: .exit, payload: Array("{}".utf8)).encoded()) }
    }
}

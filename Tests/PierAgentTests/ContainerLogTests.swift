import Foundation
import PierAPI
import Testing
@testable import PierAgent

@Suite struct ContainerLogTests {
    @Test func parsesCRILines() throws {
        let line = try #require(ContainerLog.parse("2026-01-02T15:04:05.123456789Z stdout F hello world"))
        #expect(line.stream == .stdout)
        #expect(!line.partial)
        #expect(line.text == "hello world")
        let partial = try #require(ContainerLog.parse("2026-01-02T15:04:05Z stderr P abc"))
        #expect(partial.stream == .stderr && partial.partial)
        #expect(ContainerLog.parse("garbage") == nil)
        #expect(ContainerLog.parse("t stdin F x") == nil)
    }

    @Test func framesKeepIncompleteLinesForLater() {
        let data = Data("t stdout F one\nt stderr F two\nt stdout F thr".utf8)
        let (frames, consumed) = ContainerLog.frames(from: data, timestamps: false)
        #expect(frames == [StreamFrame(kind: .stdout, payload: Array("one\n".utf8)), StreamFrame(kind: .stderr, payload: Array("two\n".utf8))])
        #expect(consumed == "t stdout F one\nt stderr F two\n".utf8.count)
    }

    @Test func readsRotatedFilesInOrderAndTails() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pier-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("container.log")
        try "t stdout F a\n".write(to: URL(fileURLWithPath: path.path + ".2"), atomically: true, encoding: .utf8)
        try "t stdout F b\n".write(to: URL(fileURLWithPath: path.path + ".1"), atomically: true, encoding: .utf8)
        try "t stdout F c\nt stdout F d\n".write(to: path, atomically: true, encoding: .utf8)
        let log = ContainerLog(path: path)
        #expect(log.read(tail: nil, timestamps: false).map { String(decoding: $0.payload, as: UTF8.self) } == ["a\n", "b\n", "c\n", "d\n"])
        #expect(log.read(tail: 2, timestamps: false).map { String(decoding: $0.payload, as: UTF8.self) } == ["c\n", "d\n"])
    }

    @Test func followerContinuesAcrossRotation() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pier-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("container.log")
        try "t stdout F first\n".write(to: path, atomically: false, encoding: .utf8)
        let follower = try LogFollower(path: path, fromEnd: false, timestamps: false)
        #expect(follower.poll().count == 1)
        try FileManager.default.moveItem(at: path, to: URL(fileURLWithPath: path.path + ".1"))
        try "t stdout F second\n".write(to: path, atomically: false, encoding: .utf8)
        #expect(follower.poll().map { String(decoding: $0.payload, as: UTF8.self) } == ["second\n"])
    }
}

import Foundation
import Testing
@testable import PierClient

@Suite("Directory tar stream")
struct TarStreamTests {
    @Test func longPathsAndSizesRoundTripThroughTar() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let deep = (0..<8).map { "directory-\($0)-with-a-long-name" }.joined(separator: "/")  // > 255 bytes with the file
        let long150 = String(repeating: "n", count: 150)
        try dir.write("src/" + deep + "/file.txt", "deep")
        try dir.write("src/a/" + long150, "long name")
        try dir.write("src/exact512", String(repeating: "z", count: 512))
        var reader = try DirectoryTarReader(directory: dir.path + "/src")
        var archive: [UInt8] = []
        while let chunk = try reader.nextChunk() { archive += chunk }
        #expect(Int64(archive.count) == reader.totalSize)
        #expect(archive.count % 512 == 0)
        let tar = dir.path + "/out.tar"
        _ = FileManager.default.createFile(atPath: tar, contents: Data(archive))
        try FileManager.default.createDirectory(atPath: dir.path + "/x", withIntermediateDirectories: true)
        #expect(try run("/usr/bin/tar", ["-xf", tar, "-C", dir.path + "/x"]) == 0)
        #expect(try String(contentsOfFile: dir.path + "/x/" + deep + "/file.txt", encoding: .utf8) == "deep")
        #expect(try String(contentsOfFile: dir.path + "/x/a/" + long150, encoding: .utf8) == "long name")
        #expect(try String(contentsOfFile: dir.path + "/x/exact512", encoding: .utf8) == String(repeating: "z", count: 512))
    }

    @Test func symlinksAreRefused() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try dir.write("src/file", "x")
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/src/link", withDestinationPath: "file")
        let error = #expect(throws: ClientError.self) { try DirectoryTarReader(directory: dir.path + "/src") }
        #expect(error?.description.contains("only regular files and directories") == true)
    }

    @Test func paxRecordLengthCountsItself() {
        // "<len> path=<99 bytes>\n": 3 digits + " path=" (6) + 99 + "\n" (1) = 109 bytes.
        let records = TarHeader.paxRecords([("path", String(repeating: "p", count: 99))])
        #expect(records.count == 109)
        #expect(String(decoding: records.prefix(4), as: UTF8.self) == "109 ")
    }
}

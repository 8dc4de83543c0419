import Foundation
import Testing
@testable import PierOCI

@Suite("LocalContentStore")
struct ContentStoreTests {
    @Test("data, files and streams are stored under their digest")
    func ingests() async throws {
        let dir = try TempDir()
        let store = try LocalContentStore(root: dir.url)
        let data = Data("hello blob".utf8)
        let digest = Digest.sha256(of: data)

        let first = try await store.ingest(data: data, expecting: digest, size: Int64(data.count))
        #expect(first == IngestResult(digest: digest, size: 10, isNew: true))
        #expect(await store.has(digest))
        #expect(try await store.read(digest, limit: 100) == data)
        #expect(try await store.path(for: digest).path == dir.url.appendingPathComponent("blobs/sha256/\(digest.encoded)").path)

        let file = dir.url.appendingPathComponent("input")
        let big = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try big.write(to: file)
        let fromFile = try await store.ingest(file: file, expecting: nil, size: nil)
        #expect(fromFile.digest == Digest.sha256(of: big) && fromFile.isNew)

        let chunks = Chunks(chunks: stride(from: 0, to: big.count, by: 100_000).map { Array(big[$0..<min(big.count, $0 + 100_000)]) })
        let fromStream = try await store.ingest(stream: chunks, expecting: fromFile.digest, size: Int64(big.count))
        #expect(fromStream.digest == fromFile.digest)
        #expect(!fromStream.isNew, "a blob already present is not new")

        #expect(try await store.allDigests() == [digest, fromFile.digest].sorted())
        #expect(dir.contents("ingest").isEmpty)
        #expect(try await store.delete(digest) == 10)
        #expect(await !store.has(digest))
        #expect(try await store.delete(digest) == 0)
    }

    @Test("a wrong digest or size stores nothing, neither under blobs/ nor in ingest/")
    func refusesMismatch() async throws {
        let dir = try TempDir()
        let store = try LocalContentStore(root: dir.url)
        let data = Data("payload".utf8)
        let claimed = Digest.sha256(of: Data("something else".utf8))

        await #expect {
            try await store.ingest(data: data, expecting: claimed, size: nil)
        } throws: { error in
            guard case ContentStoreError.digestMismatch(let expected, let actual) = error else { return false }
            return expected == claimed && actual == Digest.sha256(of: data) && "\(error)".contains(claimed.description)
        }
        await #expect {
            try await store.ingest(data: data, expecting: Digest.sha256(of: data), size: 3)
        } throws: { error in
            if case ContentStoreError.sizeMismatch = error { return true }
            return false
        }
        await #expect {
            try await store.ingest(stream: Chunks(chunks: [Array(data), Array(data)]), expecting: nil, size: 8)
        } throws: { error in
            if case ContentStoreError.longerThanDeclared = error { return true }
            return false
        }
        #expect(dir.contents("blobs/sha256").isEmpty)
        #expect(dir.contents("ingest").isEmpty)
    }

    @Test("concurrent ingests of the same blob are safe; exactly one creates it")
    func concurrentIngests() async throws {
        let dir = try TempDir()
        let store = try LocalContentStore(root: dir.url)
        let data = Data((0..<500_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let digest = Digest.sha256(of: data)
        let results = try await withThrowingTaskGroup(of: IngestResult.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let chunks = Chunks(chunks: stride(from: 0, to: data.count, by: 65_536).map { Array(data[$0..<min(data.count, $0 + 65_536)]) })
                    return try await store.ingest(stream: chunks, expecting: digest, size: Int64(data.count))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 8)
        #expect(results.filter(\.isNew).count == 1)
        #expect(try await store.read(digest, limit: 1 << 20) == data)
        #expect(dir.contents("ingest").isEmpty)
        #expect(dir.contents("blobs/sha256") == [digest.encoded])
    }

    @Test("opening the store removes ingest files of dead processes, not of live ones")
    func removesStaleIngests() throws {
        let dir = try TempDir()
        let ingest = dir.url.appendingPathComponent("ingest")
        try FileManager.default.createDirectory(at: ingest, withIntermediateDirectories: true)
        // PID 1 is alive; a PID beyond pid_max never is.
        let live = ingest.appendingPathComponent("1-abc")
        let dead = ingest.appendingPathComponent("99999999-def")
        let unnamed = ingest.appendingPathComponent("leftover")
        for url in [live, dead, unnamed] { try Data("partial".utf8).write(to: url) }
        _ = try LocalContentStore(root: dir.url)
        #expect(dir.contents("ingest") == ["1-abc"])
        #expect(dir.contents("blobs/sha256").isEmpty)
    }

    @Test("a resumable write keeps its bytes when dropped, and the next writer of the blob, after a reopen, starts from them")
    func resumableWrites() async throws {
        let dir = try TempDir()
        let blob = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let digest = Digest.sha256(of: blob), size = Int64(blob.count)
        do {
            let store = try LocalContentStore(root: dir.url)
            let first = try store.makeWriter(resuming: digest, size: size)
            #expect(first.resumedFrom == 0)
            try first.write(blob.prefix(80_000))
            // The same blob is being written: a second writer cannot share the file and gets a plain one.
            let second = try store.makeWriter(resuming: digest, size: size)
            #expect(second.resumedFrom == 0)
            second.discard()
            first.discard()
        }
        #expect(dir.contents("ingest") == ["partial-" + digest.encoded])
        // A new store (an agent restarted after a kill) keeps the partial file and resumes it.
        let store = try LocalContentStore(root: dir.url)
        #expect(dir.contents("ingest") == ["partial-" + digest.encoded])
        let resumed = try store.makeWriter(resuming: digest, size: size)
        #expect(resumed.resumedFrom == 80_000 && resumed.count == 80_000)
        try resumed.write(blob.dropFirst(80_000))
        #expect(try resumed.commit(expecting: digest, size: size).isNew)
        try await store.verify(digest)
        #expect(dir.contents("ingest").isEmpty)
    }

    @Test("wrong bytes in a partial file fail the commit and are removed; a partial file longer than the blob starts over")
    func resumableWritesNeverTrustOldBytes() async throws {
        let dir = try TempDir()
        let store = try LocalContentStore(root: dir.url)
        let blob = Data((0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        let digest = Digest.sha256(of: blob), size = Int64(blob.count)
        let partial = dir.url.appendingPathComponent("ingest/partial-" + digest.encoded)
        var tampered = blob.prefix(20_000)
        tampered[100] ^= 0xff
        try tampered.write(to: partial)
        let writer = try store.makeWriter(resuming: digest, size: size)
        #expect(writer.resumedFrom == 20_000)
        try writer.write(blob.dropFirst(20_000))
        #expect(throws: ContentStoreError.self) { try writer.commit(expecting: digest, size: size) }
        #expect(dir.contents("ingest").isEmpty)
        #expect(await !store.has(digest))

        try (blob + Data(count: 10)).write(to: partial)
        let again = try store.makeWriter(resuming: digest, size: size)
        #expect(again.resumedFrom == 0)
        try again.write(blob)
        _ = try again.commit(expecting: digest, size: size)
        try await store.verify(digest)
        #expect(dir.contents("ingest").isEmpty)
    }

    @Test("partial files nobody resumed for a week are removed when the store opens")
    func oldPartialsAreRemoved() throws {
        let dir = try TempDir()
        let ingest = dir.url.appendingPathComponent("ingest")
        try FileManager.default.createDirectory(at: ingest, withIntermediateDirectories: true)
        let recent = ingest.appendingPathComponent("partial-" + String(repeating: "a", count: 64))
        let old = ingest.appendingPathComponent("partial-" + String(repeating: "b", count: 64))
        for url in [recent, old] { try Data("bytes".utf8).write(to: url) }
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-8 * 86400)], ofItemAtPath: old.path)
        _ = try LocalContentStore(root: dir.url)
        #expect(dir.contents("ingest") == [recent.lastPathComponent])
    }

    @Test("reading a blob above the limit is refused")
    func readLimit() async throws {
        let dir = try TempDir()
        let store = try LocalContentStore(root: dir.url)
        let result = try await store.ingest(data: Data(count: 100), expecting: nil, size: nil)
        await #expect(throws: ContentStoreError.self) { try await store.read(result.digest, limit: 99) }
        await #expect(throws: ContentStoreError.self) { try await store.path(for: Digest.sha256(of: Data("absent".utf8))) }
    }
}

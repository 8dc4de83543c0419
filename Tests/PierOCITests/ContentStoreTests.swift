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

    @Test("reading a blob above the limit is refused")
    func readLimit() async throws {
        let dir = try TempDir()
        let store = try LocalContentStore(root: dir.url)
        let result = try await store.ingest(data: Data(count: 100), expecting: nil, size: nil)
        await #expect(throws: ContentStoreError.self) { try await store.read(result.digest, limit: 99) }
        await #expect(throws: ContentStoreError.self) { try await store.path(for: Digest.sha256(of: Data("absent".utf8))) }
    }
}

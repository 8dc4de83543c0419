import Foundation
import PierOCI
import Testing
@testable import PierImage

/// Hostile layers and archives built on the fly: decompression bombs, sparse entries of a
/// terabyte, oversized names and headers. Each is refused with the limit and the value named,
/// with the process's peak memory bounded and nothing left on disk.
@Suite("Unpack bounds", .serialized)
struct UnpackBoundsTests {
    /// A tar holding one file of `size` zero bytes, streamed through `compressor` (`gzip -6`,
    /// `zstd -3`); python writes the tar a MiB at a time, so nothing holds the whole stream.
    static func zeroBomb(size: Int64, compressor: String, at output: URL) throws {
        let script = """
            import sys, tarfile, io
            class Zeros(io.RawIOBase):
                def __init__(self, n): self.left = n
                def readable(self): return True
                def readinto(self, b):
                    n = min(len(b), self.left); b[:n] = bytes(n); self.left -= n; return n
            n = int(sys.argv[1])
            with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as t:
                ti = tarfile.TarInfo("zeros"); ti.size = n; ti.mode = 0o644
                t.addfile(ti, io.BufferedReader(Zeros(n), 1 << 20))
            """
        let scriptFile = output.deletingLastPathComponent().appendingPathComponent(".zeros-\(UUID().uuidString).py")
        defer { try? FileManager.default.removeItem(at: scriptFile) }
        try script.write(to: scriptFile, atomically: true, encoding: .utf8)
        try Tools.run("/bin/sh", ["-c", "python3 \"$1\" \"$2\" | \(compressor) > \"$3\"", "sh", scriptFile.path, String(size), output.path])
    }

    /// A tar (GNU tar, `--sparse`) holding one sparse file of `size` bytes with 4 KiB of data.
    static func sparseLayer(size: String, format: String, in dir: TempDir) throws -> URL {
        let source = dir.path("sparse-src")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        try Tools.run("/usr/bin/truncate", ["-s", size, source.appendingPathComponent("big").path])
        try Tools.run("/bin/sh", ["-c", "printf 'data' | dd of=\"$1\" bs=4096 seek=1 conv=notrunc status=none", "sh", source.appendingPathComponent("big").path])
        let tar = dir.path("sparse-\(format).tar")
        try Tools.run("/usr/bin/tar", ["--sparse", "--format=\(format)", "-C", source.path, "-cf", tar.path, "big"])
        try FileManager.default.removeItem(at: source)
        return tar
    }

    /// Resets the peak resident set size of this process (Linux ≥ 4.0) and returns the current one.
    static func resetPeakRSS() -> Int64 {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        return statusKiB("VmRSS") * 1024
    }

    static func peakRSS() -> Int64 { statusKiB("VmHWM") * 1024 }

    static func statusKiB(_ field: String) -> Int64 {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix("\(field):") {
            return Int64(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
        }
        return -1
    }

    /// Nothing but the inputs in `dir`: no unpacked tree, no temporary directory.
    static func leftovers(in dir: TempDir, besides inputs: Set<String>) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.url.path)) ?? []).filter { !inputs.contains($0) }
    }

    @Test("a gzip or zstd bomb (512 MiB of zeros in under a MiB) is refused by the ratio limit, memory and disk bounded",
          arguments: ["gzip -6", "zstd -q -3"])
    func refusesCompressionBomb(_ compressor: String) throws {
        let dir = try TempDir()
        let blob = dir.path("bomb")
        try Self.zeroBomb(size: 512 << 20, compressor: compressor, at: blob)
        #expect(try Tools.size(blob) < 1 << 20)
        let descriptor = try Tools.descriptor(blob, MediaType.ociLayerTarGzip)
        let baseline = Self.resetPeakRSS()
        #expect {
            try LayerUnpacker().unpack(blob: blob, layer: descriptor, diffID: nil, into: dir.path("unpacked"))
        } throws: { error in
            guard case UnpackError.limitExceeded(let layer, "compression ratio", 100, let value) = error else { return false }
            let text = (error as? UnpackError)?.description ?? ""
            return layer == descriptor.digest && value > 100 && text.contains(descriptor.digest.description) && text.contains("100 times")
        }
        let peak = Self.peakRSS()
        #expect(baseline > 0 && peak > 0)
        #expect(peak - baseline < 200 << 20, "peak RSS grew by \((peak - baseline) >> 20) MiB")
        #expect(Self.leftovers(in: dir, besides: ["bomb"]) == [])
    }

    @Test("a layer past the byte limit is refused with the limit and the value, nothing left")
    func refusesBytesPastLimit() throws {
        let dir = try TempDir()
        let blob = dir.path("bomb")
        try Self.zeroBomb(size: 48 << 20, compressor: "gzip -1", at: blob)
        let descriptor = try Tools.descriptor(blob, MediaType.ociLayerTarGzip)
        let unpacker = LayerUnpacker(configuration: .init(maxBytes: 32 << 20))
        #expect {
            try unpacker.unpack(blob: blob, layer: descriptor, diffID: nil, into: dir.path("unpacked"))
        } throws: { error in
            // The entry declares 48 MiB: refused before its data is read.
            guard case UnpackError.limitExceeded(_, "bytes", let limit, let value) = error else { return false }
            return limit == 32 << 20 && value == 48 << 20 && "\(error)".contains("\(32 << 20) bytes (it reached \(48 << 20))")
        }
        #expect(Self.leftovers(in: dir, besides: ["bomb"]) == [])
    }

    @Test("the byte limit is at most the configured share of the free space")
    func byteLimitFollowsFreeSpace() throws {
        let dir = try TempDir()
        let free = try #require(FreeSpace.bytes(at: dir.url))
        #expect(free > 0)
        let huge = LayerUnpacker.Configuration(maxBytes: .max, freeSpaceFraction: 0.5)
        let limit = huge.byteLimit(forUnpackingIn: dir.url)
        // Other processes write meanwhile: within 1 GiB of half the free space.
        #expect(abs(limit - free / 2) < 1 << 30)
        #expect(LayerUnpacker.Configuration(maxBytes: 1 << 20).byteLimit(forUnpackingIn: dir.url) == 1 << 20)
        #expect(LayerUnpacker.Configuration(maxBytes: .max, freeSpaceFraction: 0).byteLimit(forUnpackingIn: dir.url) == .max)
        // A missing directory is measured on its nearest existing parent.
        #expect(FreeSpace.bytes(at: dir.path("not/yet")) != nil)
    }

    @Test("a sparse entry of a terabyte is refused by its apparent size, before any data", arguments: ["pax", "gnu"])
    func refusesHugeSparseEntry(_ format: String) throws {
        let dir = try TempDir()
        let blob = try Self.sparseLayer(size: "1T", format: format, in: dir)
        #expect(try Tools.size(blob) < 1 << 20)
        let descriptor = try Tools.descriptor(blob)
        let baseline = Self.resetPeakRSS()
        #expect {
            try LayerUnpacker().unpack(blob: blob, layer: descriptor, diffID: nil, into: dir.path("unpacked"))
        } throws: { error in
            guard case UnpackError.limitExceeded(_, "bytes", let limit, let value) = error else { return false }
            return value == 1 << 40 && limit <= 16 << 30
        }
        #expect(Self.peakRSS() - baseline < 200 << 20)
        #expect(Self.leftovers(in: dir, besides: [blob.lastPathComponent]) == [])
    }

    @Test("a sparse entry within the limit unpacks sparse: its apparent size, few blocks", arguments: ["pax", "gnu"])
    func unpacksSmallSparseEntry(_ format: String) throws {
        let dir = try TempDir()
        let blob = try Self.sparseLayer(size: "256M", format: format, in: dir)
        let dest = dir.path("unpacked")
        try LayerUnpacker().unpack(blob: blob, layer: try Tools.descriptor(blob), diffID: nil, into: dest)
        let st = try #require(Tools.lstat(dest.appendingPathComponent("big")))
        #expect(st.st_size == 256 << 20)
        #expect(Int64(st.st_blocks) * 512 < 1 << 20, "holes stay holes")
    }

    @Test("names and link targets longer than the limit are refused", arguments: [
        TarEntry.file(String(repeating: "d/", count: 2100) + "f", "x"),
        TarEntry.symlink("link", to: String(repeating: "a", count: 5000)),
        TarEntry.hardlink("hard", to: String(repeating: "b", count: 5000)),
    ])
    func refusesLongNames(_ entry: TarEntry) throws {
        let dir = try TempDir()
        let layer = try LayerUnpackerTests.layer([entry], in: dir)
        #expect {
            try LayerUnpacker().unpack(blob: layer.url, layer: layer.descriptor, diffID: nil, into: dir.path("unpacked"))
        } throws: { error in
            guard case UnpackError.limitExceeded(_, let what, 4096, let value) = error else { return false }
            return what.hasPrefix("bytes in one") && value > 4096
        }
        #expect(Self.leftovers(in: dir, besides: ["layer.tar"]) == [])
    }

    @Test("extended attributes past the limit are refused; a pax header past libarchive's 1 MiB too")
    func refusesOversizedHeaders() throws {
        let dir = try TempDir()
        let big = try LayerUnpackerTests.layer(
            [.file("f", "x", xattrs: ["user.big": String(repeating: "v", count: 200_000)])], in: dir, name: "xattr")
        let unpacker = LayerUnpacker(configuration: .init(maxXattrBytes: 64 << 10))
        #expect {
            try unpacker.unpack(blob: big.url, layer: big.descriptor, diffID: nil, into: dir.path("unpacked"))
        } throws: { error in
            guard case UnpackError.limitExceeded(_, let what, let limit, let value) = error else { return false }
            return what.hasPrefix("bytes of extended attributes") && limit == 64 << 10 && value > 200_000
        }
        let huge = try LayerUnpackerTests.layer(
            [.file("f", "x", xattrs: ["user.huge": String(repeating: "v", count: 2 << 20)])], in: dir, name: "pax")
        // Refused by libarchive while reading the header, before any limit of ours sees it.
        #expect {
            try LayerUnpacker(configuration: .init(maxXattrBytes: 64 << 20)).unpack(
                blob: huge.url, layer: huge.descriptor, diffID: nil, into: dir.path("unpacked"))
        } throws: { error in
            guard case UnpackError.corrupt(_, let message) = error else { return false }
            return message.contains("too large")
        }
        #expect(Self.leftovers(in: dir, besides: ["xattr.tar", "pax.tar"]) == [])
    }

    // MARK: Importing archives

    @Test("an archive with a terabyte sparse blob is refused without allocating it, nothing stored")
    func importRefusesSparseArchive() async throws {
        let dir = try TempDir()
        let archive = try Self.sparseLayer(size: "1T", format: "pax", in: dir)
        let store = try LocalContentStore(root: dir.path("store"))
        let baseline = Self.resetPeakRSS()
        await #expect {
            _ = try await ImageImporter(content: store).importImages(at: archive)
        } throws: { error in
            guard case ImportError.limitExceeded(_, "bytes", _, let value) = error else { return false }
            return value == 1 << 40
        }
        #expect(Self.peakRSS() - baseline < 200 << 20)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.blobsDirectory.path).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.ingestDirectory.path).isEmpty)
    }

    @Test("a compressed archive bomb is refused by the ratio limit, nothing stored")
    func importRefusesArchiveBomb() async throws {
        let dir = try TempDir()
        let archive = dir.path("bomb.tar.gz")
        try Self.zeroBomb(size: 256 << 20, compressor: "gzip -6", at: archive)
        let store = try LocalContentStore(root: dir.path("store"))
        await #expect {
            _ = try await ImageImporter(content: store).importImages(at: archive)
        } throws: { error in
            guard case ImportError.limitExceeded(_, "compression ratio", 100, let value) = error else { return false }
            return value > 100 && "\(error)".contains("decompression bomb")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.blobsDirectory.path).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.ingestDirectory.path).isEmpty)
    }

    @Test("an archive with too many entries is refused")
    func importRefusesManyEntries() async throws {
        let dir = try TempDir()
        let archive = dir.path("many.tar")
        try Tools.makeTar((0..<50).map { .file("f\($0).json", "{}") }, at: archive)
        let store = try LocalContentStore(root: dir.path("store"))
        await #expect {
            _ = try await ImageImporter(content: store, limits: .init(maxEntries: 20)).importImages(at: archive)
        } throws: { error in
            if case ImportError.limitExceeded(_, "entries", 20, 21) = error { return true }
            return false
        }
    }
}

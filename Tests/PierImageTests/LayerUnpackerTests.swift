import PierTestSupport
import CArchive
import Foundation
import PierOCI
import Testing
@testable import PierImage

@Suite("LayerUnpacker")
struct LayerUnpackerTests {
    /// Builds a layer from entries, compressed as asked; returns its file and descriptor and diff id.
    static func layer(_ entries: [TarEntry], in dir: TempDir, _ compression: MediaType.Compression = .uncompressed,
                      name: String = "layer") throws -> (url: URL, descriptor: Descriptor, diffID: Digest) {
        let tar = dir.path("\(name).tar")
        try Tools.makeTar(entries, at: tar)
        let diffID = try Tools.sha256(tar)
        let blob = try Tools.compress(tar, compression)
        return (blob, try Tools.descriptor(blob, MediaType.ociLayerType(for: compression)), diffID)
    }

    static let sampleEntries: [TarEntry] = [
        .dir("./", mode: 0o755, mtime: 1_600_000_000),
        .dir("etc/", mode: 0o755),
        .file("etc/hostname", "gateway\n", mode: 0o644),
        .dir("usr/bin/", mode: 0o755),
        .file("usr/bin/tool", "#!/bin/sh\necho hi\n", mode: 0o4755, uid: 0, gid: 0),
        .hardlink("usr/bin/tool-link", to: "usr/bin/tool"),
        .symlink("usr/bin/sh", to: "/bin/busybox"),
        .symlink("etc/localtime", to: "../usr/share/zoneinfo/UTC"),
        .file("home/pi/data.txt", "owned", mode: 0o600, uid: 1000, gid: 1001),
        .dir("tmp/", mode: 0o1777),
        TarEntry(name: "run/fifo", type: "fifo", mode: 0o640),
        .file("opt/cap-binary", "x", mode: 0o755, xattrs: ["user.pier.test": "hello"]),
    ]

    @Test("gzip, zstd and plain tar unpack to the same tree with the same diff id", arguments: [
        MediaType.Compression.uncompressed, .gzip, .zstd,
    ])
    func unpacksEveryCompression(_ compression: MediaType.Compression) throws {
        let dir = try TempDir()
        let layer = try Self.layer(Self.sampleEntries, in: dir, compression)
        let dest = dir.path("unpacked")
        let result = try LayerUnpacker().unpack(blob: layer.url, layer: layer.descriptor, diffID: layer.diffID, into: dest)
        #expect(result.diffID == layer.diffID)
        #expect(try String(contentsOf: dest.appendingPathComponent("etc/hostname"), encoding: .utf8) == "gateway\n")
        #expect(Tools.listing(dest).contains("usr/bin/tool"))
    }

    @Test("permissions, ownership, mtimes, hard links, symlinks, FIFOs and xattrs are applied", .requires(Requirement.isRoot, "root (to chown)"))
    func appliesMetadata() throws {
        let dir = try TempDir()
        let layer = try Self.layer(Self.sampleEntries, in: dir, .gzip)
        let dest = dir.path("unpacked")
        try LayerUnpacker().unpack(blob: layer.url, layer: layer.descriptor, diffID: layer.diffID, into: dest)

        let tool = try #require(Tools.lstat(dest.appendingPathComponent("usr/bin/tool")))
        #expect(tool.st_mode & 0o7777 == 0o4755, "setuid bit kept")
        #expect(tool.st_mtim.tv_sec == 1_700_000_000)
        let link = try #require(Tools.lstat(dest.appendingPathComponent("usr/bin/tool-link")))
        #expect(link.st_ino == tool.st_ino, "hard link shares the inode")
        #expect(tool.st_nlink == 2)

        let data = try #require(Tools.lstat(dest.appendingPathComponent("home/pi/data.txt")))
        #expect(data.st_uid == 1000 && data.st_gid == 1001)
        #expect(data.st_mode & 0o7777 == 0o600)

        let tmp = try #require(Tools.lstat(dest.appendingPathComponent("tmp")))
        #expect(tmp.st_mode & 0o7777 == 0o1777, "sticky bit kept")
        #expect(tmp.st_mtim.tv_sec == 1_700_000_000, "directory mtime applied after its children")

        let sh = try FileManager.default.destinationOfSymbolicLink(atPath: dest.appendingPathComponent("usr/bin/sh").path)
        #expect(sh == "/bin/busybox")
        let localtime = try FileManager.default.destinationOfSymbolicLink(atPath: dest.appendingPathComponent("etc/localtime").path)
        #expect(localtime == "../usr/share/zoneinfo/UTC")

        let fifo = try #require(Tools.lstat(dest.appendingPathComponent("run/fifo")))
        #expect(fifo.st_mode & S_IFMT == S_IFIFO)
        #expect(fifo.st_mode & 0o777 == 0o640)

        #expect(Tools.xattr(dest.appendingPathComponent("opt/cap-binary"), "user.pier.test") == "hello")
        let root = try #require(Tools.lstat(dest))
        #expect(root.st_mtim.tv_sec == 1_600_000_000, "the ./ entry's metadata applies to the layer root")
    }

    @Test("security.capability xattrs are applied (after chown, which would clear them)", .requires(Requirement.isRoot, "root (to chown and set security.* xattrs)"))
    func appliesCapabilities() throws {
        let dir = try TempDir()
        // cap_net_bind_service+ep, as setcap writes it (VFS_CAP_REVISION_2).
        let capability = Data([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        // pax headers carry the binary value; surrogateescape lets python write arbitrary bytes.
        let withCaps = dir.path("caps-bin.tar")
        try Tools.run("/usr/bin/python3", ["-c", """
        import tarfile, io, sys
        data = bytes.fromhex(sys.argv[2])
        with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape") as t:
            ti = tarfile.TarInfo("bin/server"); ti.size = 1; ti.mode = 0o755; ti.uid = 1000; ti.gid = 1000
            ti.pax_headers = {"SCHILY.xattr.security.capability": data.decode("utf-8", "surrogateescape")}
            t.addfile(ti, io.BytesIO(b"x"))
        """, withCaps.path, capability.map { String(format: "%02x", $0) }.joined()])
        let dest = dir.path("unpacked")
        try LayerUnpacker().unpack(blob: withCaps, layer: try Tools.descriptor(withCaps), diffID: nil, into: dest)
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = lgetxattr(dest.appendingPathComponent("bin/server").path, "security.capability", &buffer, buffer.count)
        #expect(n == capability.count)
        #expect(Data(buffer.prefix(max(n, 0))) == capability)
        let st = try #require(Tools.lstat(dest.appendingPathComponent("bin/server")))
        #expect(st.st_uid == 1000)
    }

    @Test("OCI whiteouts become overlayfs whiteouts: a 0/0 char device and the opaque xattr")
    func convertsWhiteouts() throws {
        let dir = try TempDir()
        let layer = try Self.layer([
            .dir("etc/"),
            .file("etc/.wh.removed.conf"),
            .dir("var/cache/"),
            .file("var/cache/.wh..wh..opq"),
            .file("var/cache/new", "fresh"),
            .file(".wh..wh.plnk"),
        ], in: dir)
        let dest = dir.path("unpacked")
        try LayerUnpacker().unpack(blob: layer.url, layer: layer.descriptor, diffID: layer.diffID, into: dest)

        let whiteout = try #require(Tools.lstat(dest.appendingPathComponent("etc/removed.conf")))
        #expect(whiteout.st_mode & S_IFMT == S_IFCHR)
        #expect(whiteout.st_rdev == 0)
        #expect(!FileManager.default.fileExists(atPath: dest.appendingPathComponent("etc/.wh.removed.conf").path))
        #expect(Tools.xattr(dest.appendingPathComponent("var/cache"), "trusted.overlay.opaque") == "y")
        #expect(!FileManager.default.fileExists(atPath: dest.appendingPathComponent("var/cache/.wh..wh..opq").path))
        #expect(FileManager.default.fileExists(atPath: dest.appendingPathComponent("var/cache/new").path))
        #expect(Tools.listing(dest) == ["etc", "etc/removed.conf", "var", "var/cache", "var/cache/new"])
    }

    @Test("trusted.overlay xattrs in the archive are ignored")
    func ignoresOverlayXattrs() throws {
        let dir = try TempDir()
        let layer = try Self.layer([
            .file("f", "x", xattrs: ["trusted.overlay.opaque": "y", "trusted.overlay.redirect": "/etc", "user.ok": "1"]),
        ], in: dir)
        let dest = dir.path("unpacked")
        try LayerUnpacker().unpack(blob: layer.url, layer: layer.descriptor, diffID: layer.diffID, into: dest)
        #expect(Tools.xattr(dest.appendingPathComponent("f"), "trusted.overlay.opaque") == nil)
        #expect(Tools.xattr(dest.appendingPathComponent("f"), "trusted.overlay.redirect") == nil)
        #expect(Tools.xattr(dest.appendingPathComponent("f"), "user.ok") == "1")
    }

    /// Hostile layers: each one is refused, names the entry and the layer, writes nothing outside
    /// the unpack directory (checked with a sentinel directory beside it) and leaves nothing behind.
    static let hostileCases: [(String, [TarEntry], Int)] = [
        ("parent reference", [.file("../sentinel/escaped", "pwned")], 0),
        ("nested parent reference", [.dir("a/"), .file("a/../../sentinel/escaped", "pwned")], 1),
        ("absolute path", [.file("/SENTINEL_ABS/escaped", "pwned")], 0),
        ("file through an absolute symlink", [.symlink("link", to: "SENTINEL"), .file("link/escaped", "pwned")], 1),
        ("file through a relative symlink", [.symlink("up", to: ".."), .file("up/sentinel/escaped", "pwned")], 0),
        ("file through a symlink inside the layer", [.dir("d/"), .symlink("s", to: "d"), .file("s/x", "y")], 2),
        ("directory through a symlink", [.symlink("link", to: "SENTINEL"), .dir("link/sub/")], 1),
        ("hard link out of the layer", [.hardlink("passwd", to: "../sentinel/secret")], 0),
        ("hard link to an absolute path", [.hardlink("passwd", to: "/etc/passwd")], 0),
        ("hard link through a symlink", [.symlink("link", to: "SENTINEL"), .hardlink("stolen", to: "link/secret")], 1),
        ("symlink climbing above the root", [.dir("a/"), .symlink("a/escape", to: "../../sentinel")], 1),
        ("character device", [TarEntry(name: "dev/null", type: "chr", mode: 0o666)], 0),
        ("block device", [TarEntry(name: "dev/sda", type: "blk", mode: 0o660)], 0),
    ]

    @Test("hostile entries are refused and nothing is written outside", arguments: 0..<hostileCases.count)
    func refusesHostileEntries(_ index: Int) throws {
        let (label, template, offending) = Self.hostileCases[index]
        let dir = try TempDir()
        let sentinel = dir.path("sentinel")
        try FileManager.default.createDirectory(at: sentinel, withIntermediateDirectories: true)
        try "secret".write(to: sentinel.appendingPathComponent("secret"), atomically: true, encoding: .utf8)
        let entries = template.map { e -> TarEntry in
            var e = e
            e.name = e.name.replacingOccurrences(of: "SENTINEL_ABS", with: sentinel.path.dropFirst().description)
            e.linkname = e.linkname?.replacingOccurrences(of: "SENTINEL", with: sentinel.path)
            return e
        }
        let layer = try Self.layer(entries, in: dir)
        let dest = dir.path("layers/unpacked")
        try FileManager.default.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
        let before = Tools.listing(dir.url)
        let error = #expect(throws: UnpackError.self, "\(label)") {
            try LayerUnpacker().unpack(blob: layer.url, layer: layer.descriptor, diffID: layer.diffID, into: dest)
        }
        if let error {
            if case .refused(let layerDigest, let entry, _) = error {
                #expect(layerDigest == layer.descriptor.digest)
                let trim = CharacterSet(charactersIn: "/")
                let expected = entries[offending].name
                #expect(entry.trimmingCharacters(in: trim) == expected.trimmingCharacters(in: trim), "\(label): error names \(entry)")
                #expect(error.description.contains(layer.descriptor.digest.description))
            } else {
                Issue.record("\(label): wrong error \(error)")
            }
        }
        #expect(Tools.listing(sentinel) == ["secret"], "\(label): sentinel untouched")
        #expect(try String(contentsOf: sentinel.appendingPathComponent("secret"), encoding: .utf8) == "secret")
        #expect(!FileManager.default.fileExists(atPath: dest.path), "\(label): nothing left at the destination")
        #expect(Tools.listing(dest.deletingLastPathComponent()) == [], "\(label): no temp dir left")
        #expect(Tools.listing(dir.url) == before, "\(label): nothing else changed")
    }

    @Test("relative symlinks that stay inside and absolute symlinks are fine")
    func acceptsInsideSymlinks() throws {
        let dir = try TempDir()
        let layer = try Self.layer([
            .dir("a/b/"),
            .symlink("a/b/up", to: "../../etc"),
            .symlink("a/abs", to: "/etc/passwd"),
            .symlink("a/dot", to: "./b/../b"),
        ], in: dir)
        let dest = dir.path("unpacked")
        try LayerUnpacker().unpack(blob: layer.url, layer: layer.descriptor, diffID: layer.diffID, into: dest)
        #expect(Tools.listing(dest).contains("a/b/up"))
    }

    @Test("a wrong diff id is refused and leaves nothing")
    func refusesWrongDiffID() throws {
        let dir = try TempDir()
        let layer = try Self.layer([.file("a", "x")], in: dir, .gzip)
        let wrong = Digest.sha256(of: Data("other".utf8))
        let dest = dir.path("unpacked")
        #expect {
            try LayerUnpacker().unpack(blob: layer.url, layer: layer.descriptor, diffID: wrong, into: dest)
        } throws: { error in
            guard case UnpackError.diffIDMismatch(_, let expected, let actual) = error else { return false }
            return expected == wrong && actual == layer.diffID
        }
        #expect(!FileManager.default.fileExists(atPath: dest.path))
    }

    @Test("a blob that does not match its digest is refused")
    func refusesWrongBlobDigest() throws {
        let dir = try TempDir()
        let layer = try Self.layer([.file("a", "x")], in: dir)
        var descriptor = layer.descriptor
        descriptor.digest = Digest.sha256(of: Data("not this".utf8))
        #expect {
            try LayerUnpacker().unpack(blob: layer.url, layer: descriptor, diffID: nil, into: dir.path("unpacked"))
        } throws: { error in
            if case UnpackError.digestMismatch = error { return true }
            return false
        }
    }

    @Test("a truncated layer is refused and leaves nothing", arguments: [MediaType.Compression.uncompressed, .gzip, .zstd])
    func refusesTruncated(_ compression: MediaType.Compression) throws {
        let dir = try TempDir()
        let layer = try Self.layer([.file("big", String(repeating: "0123456789", count: 20_000))], in: dir, compression)
        let data = try Data(contentsOf: layer.url)
        let truncated = dir.path("truncated")
        try data.prefix(data.count / 2).write(to: truncated)
        let dest = dir.path("unpacked")
        #expect {
            try LayerUnpacker().unpack(blob: truncated, layer: try Tools.descriptor(truncated), diffID: nil, into: dest)
        } throws: { error in
            if case UnpackError.corrupt = error { return true }
            return false
        }
        #expect(!FileManager.default.fileExists(atPath: dest.path))
        #expect(Tools.listing(dir.url).allSatisfy { !$0.hasPrefix(".tmp-unpack") })
    }

    @Test("garbage that is not a tar stream is refused")
    func refusesGarbage() throws {
        let dir = try TempDir()
        let blob = dir.path("garbage")
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }).write(to: blob)
        #expect(throws: UnpackError.self) {
            try LayerUnpacker().unpack(blob: blob, layer: try Tools.descriptor(blob), diffID: nil, into: dir.path("unpacked"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("unpacked").path))
    }

    @Test("a decompression bomb stops at the byte limit and leaves nothing")
    func stopsBombByBytes() throws {
        let dir = try TempDir()
        // 64 MiB of zeros compresses to ~64 KiB.
        let layer = try Self.layer([TarEntry(name: "zeros", type: "file", mode: 0o644, size: 64 << 20)], in: dir, .gzip)
        #expect(try Tools.size(layer.url) < 1 << 20)
        let dest = dir.path("unpacked")
        let unpacker = LayerUnpacker(configuration: .init(maxBytes: 8 << 20))
        #expect {
            try unpacker.unpack(blob: layer.url, layer: layer.descriptor, diffID: layer.diffID, into: dest)
        } throws: { error in
            guard case UnpackError.limitExceeded(_, "bytes", let limit, _) = error else { return false }
            return limit == 8 << 20 && (error as? UnpackError)?.description.contains("limit") == true
        }
        #expect(!FileManager.default.fileExists(atPath: dest.path))
        #expect(Tools.listing(dir.url).allSatisfy { !$0.hasPrefix(".tmp-unpack") })
    }

    @Test("too many entries stop at the entry limit")
    func stopsBombByEntries() throws {
        let dir = try TempDir()
        let layer = try Self.layer((0..<50).map { .file("f\($0)", "x") }, in: dir)
        let unpacker = LayerUnpacker(configuration: .init(maxEntries: 20))
        #expect {
            try unpacker.unpack(blob: layer.url, layer: layer.descriptor, diffID: nil, into: dir.path("unpacked"))
        } throws: { error in
            if case UnpackError.limitExceeded(_, "entries", 20, _) = error { return true }
            return false
        }
    }

    @Test("later entries replace earlier ones, and replacing a symlink never writes through it")
    func laterEntriesReplace() throws {
        let dir = try TempDir()
        let sentinel = dir.path("sentinel")
        try FileManager.default.createDirectory(at: sentinel, withIntermediateDirectories: true)
        try "secret".write(to: sentinel.appendingPathComponent("secret"), atomically: true, encoding: .utf8)
        let layer = try Self.layer([
            .symlink("target", to: sentinel.appendingPathComponent("secret").path),
            .file("target", "replaced"),
            .file("dir-then-file/inner", "x"),
            .file("dir-then-file", "now a file"),
        ], in: dir)
        let dest = dir.path("unpacked")
        try LayerUnpacker().unpack(blob: layer.url, layer: layer.descriptor, diffID: layer.diffID, into: dest)
        #expect(try String(contentsOf: dest.appendingPathComponent("target"), encoding: .utf8) == "replaced")
        #expect(try String(contentsOf: sentinel.appendingPathComponent("secret"), encoding: .utf8) == "secret")
        #expect(try String(contentsOf: dest.appendingPathComponent("dir-then-file"), encoding: .utf8) == "now a file")
    }
}

@Suite("LayerStore")
struct LayerStoreTests {
    @Test("layers unpack once under their diff id; GC keeps the keep-set; stale temp dirs go on open")
    func storesLayers() async throws {
        let dir = try TempDir()
        let content = try LocalContentStore(root: dir.url)
        var diffIDs: [Digest] = []
        var descriptors: [Descriptor] = []
        for i in 0..<3 {
            let layer = try LayerUnpackerTests.layer([.file("file\(i)", String(repeating: "x", count: 10_000))], in: dir, .gzip, name: "l\(i)")
            try await content.ingest(file: layer.url, expecting: layer.descriptor.digest, size: layer.descriptor.size)
            diffIDs.append(layer.diffID)
            descriptors.append(layer.descriptor)
        }
        let store = try LayerStore(root: dir.url, content: content)
        for (d, id) in zip(descriptors, diffIDs) {
            let url = try await store.ensureUnpacked(layer: d, diffID: id)
            #expect(url == store.path(for: id))
        }
        #expect(await store.all() == diffIDs.sorted())
        #expect(store.bytesOnDisk(diffIDs[0]) >= 10_000)
        #expect(await store.totalBytes() >= 30_000)

        // A wrong diff id is refused and leaves nothing.
        let bogus = Digest.sha256(of: Data("bogus".utf8))
        await #expect(throws: UnpackError.self) { try await store.ensureUnpacked(layer: descriptors[0], diffID: bogus) }
        #expect(!store.isUnpacked(bogus))
        // Not a layer media type.
        var config = descriptors[0]
        config.mediaType = MediaType.ociConfig
        await #expect(throws: LayerStoreError.self) { try await store.ensureUnpacked(layer: config, diffID: bogus) }

        let collected = try await store.collectGarbage(keeping: [diffIDs[1]])
        #expect(Set(collected.removed) == [diffIDs[0], diffIDs[2]])
        #expect(collected.bytes > 0)
        #expect(await store.all() == [diffIDs[1]])

        try FileManager.default.createDirectory(at: store.directory.appendingPathComponent(".tmp-unpack-x/a"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: store.directory.appendingPathComponent(".tmp-remove-y"), withIntermediateDirectories: true)
        let reopened = try LayerStore(root: dir.url, content: content)
        #expect(Tools.listing(reopened.directory) == Tools.listing(store.path(for: diffIDs[1])).map { "\(diffIDs[1].encoded)/\($0)" }.reduce([diffIDs[1].encoded]) { $0 + [$1] })
        #expect(try await reopened.remove(diffIDs[1]) > 0)
        #expect(await reopened.all().isEmpty)
    }
}

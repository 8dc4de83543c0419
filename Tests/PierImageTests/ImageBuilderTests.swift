import PierTestSupport
import Foundation
import PierOCI
import Testing
@testable import PierImage

@Suite("ImageBuilder", .timeLimit(.minutes(5)))
struct ImageBuilderTests {
    static func request(_ source: URL, base: ImageBuildRequest.Base? = nil, tag: String = "app:1.0") throws -> ImageBuildRequest {
        ImageBuildRequest(
            base: base,
            layers: [
                .init(items: [.init(source: source.appendingPathComponent("bin"), destination: "/app/bin")], createdBy: "COPY bin /app/bin"),
                .init(items: [.init(source: source.appendingPathComponent("etc/app/config.json"), destination: "/etc/app/config.json")],
                      createdBy: "COPY config.json /etc/app/"),
            ],
            changes: ImageConfigChanges(entrypoint: ["/app/bin/run"], env: [EnvironmentVariable("MODE", "edge")],
                                        workingDir: "/app", labels: ["org.example.role": "sensor"], exposedPorts: ["5683/udp", "8080"]),
            tag: try ImageReference(parsing: tag))
    }

    @Test("building twice from the same inputs gives the same digests, whatever the files' times")
    func reproducible() throws {
        let dir = try TempDir()
        let source = try Fixtures.sourceTree(in: dir)
        let first = try Fixtures.build(try Self.request(source), in: dir, name: "out1")
        // Touch every file: times must not leak into the image.
        let later = Date(timeIntervalSinceNow: 3600)
        for path in Tools.listing(source) {
            try? FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: source.appendingPathComponent(path).path)
        }
        let second = try Fixtures.build(try Self.request(source), in: dir, name: "out2")
        #expect(first.manifest.digest == second.manifest.digest)
        #expect(first.config.digest == second.config.digest)
        #expect(first.newLayers == second.newLayers)
        #expect(try Data(contentsOf: first.layout.appendingPathComponent("index.json"))
                == Data(contentsOf: second.layout.appendingPathComponent("index.json")))

        // gzip header: no timestamp (bytes 4-7), no file name flag (byte 3 bit 3).
        let layer = try Data(contentsOf: first.layout.appendingPathComponent("blobs/sha256/\(first.newLayers[0].digest.encoded)"))
        #expect(layer[0] == 0x1f && layer[1] == 0x8b)
        #expect(layer[3] & 0x08 == 0)
        #expect(Array(layer[4..<8]) == [0, 0, 0, 0])

        // A different SOURCE_DATE_EPOCH is a different image.
        var dated = try Self.request(source)
        dated.sourceDateEpoch = 1_700_000_000
        let third = try Fixtures.build(dated, in: dir, name: "out3")
        #expect(third.manifest.digest != first.manifest.digest)
    }

    @Test("layers hold sorted entries with parents, mtime 0, owner 0, modes, symlinks and hard links")
    func layerContents() throws {
        let dir = try TempDir()
        let source = try Fixtures.sourceTree(in: dir)
        let result = try Fixtures.build(try Self.request(source), in: dir, name: "out")
        let layer = result.newLayers[0]
        let blob = result.layout.appendingPathComponent("blobs/sha256/\(layer.digest.encoded)")
        let listing = String(decoding: try Tools.run("/usr/bin/tar", ["-tvzf", blob.path, "--numeric-owner"]), as: UTF8.self)
        let names = listing.split(separator: "\n").map { String($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(5).joined(separator: " ")) }
        #expect(names == ["app/", "app/bin/", "app/bin/run", "app/bin/run-again link to app/bin/run", "app/bin/start -> run"])
        for line in listing.split(separator: "\n") {
            #expect(line.contains(" 0/0 "), "owner 0/0: \(line)")
            #expect(line.contains("1970-01-01"), "mtime 0: \(line)")
        }
        #expect(listing.contains("-rwxr-xr-x"))

        let unpacked = dir.path("unpacked")
        try LayerUnpacker().unpack(blob: blob, layer: layer, diffID: result.diffIDs[0], into: unpacked)
        let run = try #require(Tools.lstat(unpacked.appendingPathComponent("app/bin/run")))
        let again = try #require(Tools.lstat(unpacked.appendingPathComponent("app/bin/run-again")))
        #expect(run.st_ino == again.st_ino)
        #expect(run.st_mode & 0o777 == 0o755)
    }

    @Test("the config carries the changes; ENTRYPOINT clears the base's CMD; ENV replaces in place")
    func configChanges() throws {
        let dir = try TempDir()
        let base = try Fixtures.build(try Fixtures.busyboxRequest(), in: dir, name: "base")
        let source = try Fixtures.sourceTree(in: dir)
        let baseBlobs = base.layout.appendingPathComponent("blobs/sha256")
        var request = try Self.request(source, base: .init(
            manifest: try Data(contentsOf: baseBlobs.appendingPathComponent(base.manifest.digest.encoded)),
            config: try Data(contentsOf: baseBlobs.appendingPathComponent(base.config.digest.encoded)),
            reference: "base:1"))
        request.changes.env.append(EnvironmentVariable("PATH", "/app/bin:/bin"))
        let result = try Fixtures.build(request, in: dir, name: "app")
        let config = try ImageConfig.decode(try Data(contentsOf: result.layout.appendingPathComponent("blobs/sha256/\(result.config.digest.encoded)")))
        #expect(config.config?.entrypoint == ["/app/bin/run"])
        #expect(config.config?.cmd == nil)
        #expect(config.config?.env == ["PATH=/app/bin:/bin", "MODE=edge"])
        #expect(config.config?.workingDir == "/app")
        #expect(config.config?.labels == ["org.example.role": "sensor"])
        #expect(config.config?.exposedPorts?.keys.sorted() == ["5683/udp", "8080/tcp"])
        #expect(config.rootfs.diffIDs.count == 3)
        #expect(config.history?.compactMap(\.createdBy) == ["COPY busybox /bin/busybox", "COPY bin /app/bin", "COPY config.json /etc/app/"])
        #expect(config.created == "1970-01-01T00:00:00Z")

        // Only the new blobs are in the layout: two layers, the config, the manifest.
        #expect(Fixtures.blobs(result.layout) == ([result.manifest.digest, result.config.digest] + result.newLayers.map(\.digest)).map(\.encoded).sorted())
        let manifest = try ImageManifest.decode(try Data(contentsOf: result.layout.appendingPathComponent("blobs/sha256/\(result.manifest.digest.encoded)")))
        #expect(manifest.layers.count == 3)
        #expect(manifest.layers[0].digest == base.newLayers[0].digest)
        #expect(manifest.annotations?[AnnotationKey.baseName] == "base:1")
        let index = try Fixtures.index(result.layout)
        #expect(index.manifests.count == 1)
        #expect(index.manifests[0].annotations?[AnnotationKey.refName] == "app:1.0")
        #expect(index.manifests[0].annotations?[AnnotationKey.containerdImageName] == "docker.io/library/app:1.0")
    }

    @Test("a base whose config does not match its manifest is refused")
    func badBase() throws {
        let dir = try TempDir()
        let base = try Fixtures.build(try Fixtures.busyboxRequest(), in: dir, name: "base")
        let blobs = base.layout.appendingPathComponent("blobs/sha256")
        var request = try Fixtures.busyboxRequest(tag: "x")
        request.base = .init(manifest: try Data(contentsOf: blobs.appendingPathComponent(base.manifest.digest.encoded)),
                             config: Data("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}".utf8))
        #expect(throws: ImageBuildError.self) { try Fixtures.build(request, in: dir, name: "out") }
        #expect(!FileManager.default.fileExists(atPath: dir.path("out").path))
        #expect(Tools.listing(dir.url).allSatisfy { !$0.hasPrefix(".out.tmp") })
    }

    @Test("--with-libs adds the interpreter and shared libraries so a dynamic binary runs FROM scratch", .requires(Requirement.isRoot, "root (to chroot)"))
    func withLibs() throws {
        let dir = try TempDir()
        let binary = URL(fileURLWithPath: "/usr/bin/ls")
        let needed = try ELFDependencies().files(for: binary.path)
        #expect(needed.contains { $0.contains("libc.so") })
        #expect(needed.contains { $0.contains("ld-linux") })
        let request = ImageBuildRequest(layers: [.init(items: [.init(source: binary, destination: "/bin/ls", withLibs: true)])],
                                        changes: ImageConfigChanges(entrypoint: ["/bin/ls"]))
        let result = try Fixtures.build(request, in: dir, name: "out")
        let rootfs = dir.path("rootfs")
        try LayerUnpacker().unpack(blob: result.layout.appendingPathComponent("blobs/sha256/\(result.newLayers[0].digest.encoded)"),
                                   layer: result.newLayers[0], diffID: result.diffIDs[0], into: rootfs)
        // The image has nothing but ls and its libraries; run it there.
        let output = try Tools.run("/usr/sbin/chroot", [rootfs.path, "/bin/ls", "/bin"])
        #expect(String(decoding: output, as: UTF8.self) == "ls\n")

        // Without them it cannot start.
        let bare = ImageBuildRequest(layers: [.init(items: [.init(source: binary, destination: "/bin/ls")])])
        let bareResult = try Fixtures.build(bare, in: dir, name: "bare")
        let bareRoot = dir.path("bare-rootfs")
        try LayerUnpacker().unpack(blob: bareResult.layout.appendingPathComponent("blobs/sha256/\(bareResult.newLayers[0].digest.encoded)"),
                                   layer: bareResult.newLayers[0], diffID: bareResult.diffIDs[0], into: bareRoot)
        #expect(throws: (any Error).self) { try Tools.run("/usr/sbin/chroot", [bareRoot.path, "/bin/ls"]) }
    }

    @Test("--with-libs on a static binary adds nothing, and on a non-ELF file is refused")
    func withLibsStaticAndNonELF() throws {
        #expect(try ELFDependencies().files(for: "/bin/busybox").isEmpty)
        let dir = try TempDir()
        let script = dir.path("script.sh")
        try "#!/bin/sh\n".write(to: script, atomically: true, encoding: .utf8)
        let request = ImageBuildRequest(layers: [.init(items: [.init(source: script, destination: "/s", withLibs: true)])])
        #expect(throws: ImageBuildError.self) { try Fixtures.build(request, in: dir, name: "out") }
    }

    @Test("the layout tar is deterministic and holds exactly the layout's files")
    func layoutTar() throws {
        let dir = try TempDir()
        let result = try Fixtures.build(try Fixtures.busyboxRequest(), in: dir, name: "layout")
        let a = try Fixtures.tar(result.layout, in: dir, name: "a.tar")
        let b = try Fixtures.tar(result.layout, in: dir, name: "b.tar")
        #expect(try Data(contentsOf: a) == Data(contentsOf: b))
        let names = String(decoding: try Tools.run("/usr/bin/tar", ["-tf", a.path]), as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(names == ["blobs/", "blobs/sha256/"] + Fixtures.blobs(result.layout).map { "blobs/sha256/\($0)" } + ["index.json", "oci-layout"])
    }
}

import Foundation
import PierOCI
@testable import PierImage

/// Images built for tests with the real builder.
enum Fixtures {
    /// A directory with a small tree: an executable, a config file, a symlink, a hard link.
    static func sourceTree(in dir: TempDir, name: String = "src", payload: String = "v1") throws -> URL {
        let root = dir.path(name)
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try fm.createDirectory(at: root.appendingPathComponent("etc/app"), withIntermediateDirectories: true)
        let run = root.appendingPathComponent("bin/run")
        try "#!/bin/sh\necho \(payload)\n".write(to: run, atomically: true, encoding: .utf8)
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: run.path)
        try "{\"payload\":\"\(payload)\"}".write(to: root.appendingPathComponent("etc/app/config.json"), atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("bin/start").path, withDestinationPath: "run")
        try fm.linkItem(at: run, to: root.appendingPathComponent("bin/run-again"))
        return root
    }

    /// Builds a layout; returns the result.
    static func build(_ request: ImageBuildRequest, in dir: TempDir, name: String) throws -> ImageBuildResult {
        try ImageBuilder().build(request, into: dir.path(name))
    }

    /// A scratch image holding busybox as /bin/busybox and /bin/sh.
    static func busyboxRequest(tag: String = "base:1") throws -> ImageBuildRequest {
        ImageBuildRequest(
            layers: [.init(items: [.init(source: URL(fileURLWithPath: "/bin/busybox"), destination: "/bin/busybox")],
                           createdBy: "COPY busybox /bin/busybox")],
            changes: ImageConfigChanges(cmd: ["/bin/busybox", "sh"], env: [EnvironmentVariable("PATH", "/bin")]),
            tag: try ImageReference(parsing: tag))
    }

    /// Tars a layout directory (what the CLI uploads).
    static func tar(_ layout: URL, in dir: TempDir, name: String) throws -> URL {
        let out = dir.path(name)
        try OCILayoutArchiver.writeTar(of: layout, to: out)
        return out
    }

    /// Reads a layout's index.json.
    static func index(_ layout: URL) throws -> ImageIndex {
        try ImageIndex.decode(try Data(contentsOf: layout.appendingPathComponent("index.json")))
    }

    static func blobs(_ layout: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: layout.appendingPathComponent("blobs/sha256").path)) ?? []).sorted()
    }
}

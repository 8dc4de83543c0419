import PierTestSupport
import Foundation
import Testing

@testable import PierRuntime

@Suite("Overlay rootfs", .requires(TestSupport.isRoot, "root (to mount)"), .timeLimit(.minutes(5)))
struct OverlayRootfsTests {
    func withDirectory<T>(_ body: (URL) throws -> T) throws -> T {
        let dir = try TestSupport.makeTempDirectory()
        defer {
            for mountPoint in SystemCalls.mountPoints(under: dir.path) { umount2(mountPoint, Int32(MNT_DETACH)) }
            try? FileManager.default.removeItem(at: dir)
        }
        return try body(dir)
    }

    func write(_ text: String, _ url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func read(_ url: URL) -> String? { try? String(contentsOf: url, encoding: .utf8) }

    @Test("layers stack top-most first; writes land in the upper directory; unmount and remove")
    func stacking() throws {
        try withDirectory { dir in
            let lower = dir.appendingPathComponent("lower"), upper = dir.appendingPathComponent("top")
            try write("lower", lower.appendingPathComponent("shared"))
            try write("only in lower", lower.appendingPathComponent("a"))
            try write("top", upper.appendingPathComponent("shared"))
            let rootfs = OverlayRootfs(
                layers: [upper, lower], upper: dir.appendingPathComponent("c/upper"),
                work: dir.appendingPathComponent("c/work"), target: dir.appendingPathComponent("c/rootfs"),
                emptyLower: dir.appendingPathComponent("c/empty"))
            try rootfs.mount()
            #expect(OverlayRootfs.isMounted(rootfs.target))
            #expect(read(rootfs.target.appendingPathComponent("shared")) == "top")
            #expect(read(rootfs.target.appendingPathComponent("a")) == "only in lower")
            try write("new", rootfs.target.appendingPathComponent("written"))
            #expect(read(rootfs.upper.appendingPathComponent("written")) == "new")
            #expect(read(lower.appendingPathComponent("written")) == nil)
            // Mounting again replaces the mount instead of stacking a second one.
            try rootfs.mount()
            #expect(SystemCalls.mountPoints(under: rootfs.target.path).count == 1)
            try OverlayRootfs.unmount(rootfs.target)
            #expect(!OverlayRootfs.isMounted(rootfs.target))
            try OverlayRootfs.unmount(rootfs.target)  // nothing mounted: not an error
            try rootfs.remove()
            #expect(!FileManager.default.fileExists(atPath: rootfs.upper.path))
            #expect(read(lower.appendingPathComponent("a")) == "only in lower")
        }
    }

    @Test("an image without layers mounts over an empty lower directory")
    func noLayers() throws {
        try withDirectory { dir in
            let rootfs = OverlayRootfs(
                layers: [], upper: dir.appendingPathComponent("upper"), work: dir.appendingPathComponent("work"),
                target: dir.appendingPathComponent("rootfs"), emptyLower: dir.appendingPathComponent("empty"))
            try rootfs.mount()
            #expect(try FileManager.default.contentsOfDirectory(atPath: rootfs.target.path).isEmpty)
            try OverlayRootfs.unmount(rootfs.target)
        }
    }

    @Test("many layers with long paths exceed a page of mount options and still mount")
    func manyLayers() throws {
        try withDirectory { dir in
            let longName = String(repeating: "d", count: 60)
            let layers = (0..<80).map { dir.appendingPathComponent("layers/\(longName)-\($0)/fs") }
            for (i, layer) in layers.enumerated() {
                try write("\(i)", layer.appendingPathComponent("file\(i)"))
                try write("\(i)", layer.appendingPathComponent("shared"))
            }
            #expect(OverlayRootfs.options(lowers: layers.map(\.path), upper: "u", work: "w").utf8.count > 4096)
            let rootfs = OverlayRootfs(
                layers: layers, upper: dir.appendingPathComponent("upper"), work: dir.appendingPathComponent("work"),
                target: dir.appendingPathComponent("rootfs"), emptyLower: dir.appendingPathComponent("empty"))
            try rootfs.mount()
            #expect(read(rootfs.target.appendingPathComponent("shared")) == "0")
            #expect(read(rootfs.target.appendingPathComponent("file79")) == "79")
            try OverlayRootfs.unmount(rootfs.target)
        }
    }

    @Test("a missing layer is reported, not mounted")
    func missingLayer() throws {
        try withDirectory { dir in
            let rootfs = OverlayRootfs(
                layers: [dir.appendingPathComponent("gone")], upper: dir.appendingPathComponent("upper"),
                work: dir.appendingPathComponent("work"), target: dir.appendingPathComponent("rootfs"),
                emptyLower: dir.appendingPathComponent("empty"))
            #expect(throws: RootfsError.layerMissing(path: dir.appendingPathComponent("gone").path)) { try rootfs.mount() }
            #expect(!OverlayRootfs.isMounted(rootfs.target))
        }
    }
}

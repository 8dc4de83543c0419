import Foundation
import Testing

@testable import PierRuntime

@Suite("Cgroups", .enabled(if: TestSupport.isRoot, "creating cgroups needs root"))
struct CgroupsTests {
    @Test("leftover cgroup directories of a container are removed, children first")
    func removeLeftovers() throws {
        let parent = "/pier-test-\(UInt32.random(in: 0...UInt32.max))"
        let cgroups = Cgroups(parent: parent)
        let id = TestSupport.newID()
        let controllers = cgroups.version == .v1 ? ["pids", "memory"] : [""]
        for controller in controllers {
            let dir = cgroups.directory(controller: controller, id: id)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("child/grandchild"), withIntermediateDirectories: true)
        }
        defer {
            for controller in controllers {
                rmdir(cgroups.directory(controller: controller, id: id).deletingLastPathComponent().path)
            }
        }
        #expect(cgroups.exists(id: id))
        #expect(cgroups.remove(id: id).isEmpty)
        for controller in controllers {
            #expect(!FileManager.default.fileExists(atPath: cgroups.directory(controller: controller, id: id).path))
        }
        #expect(!cgroups.exists(id: id))
        #expect(cgroups.remove(id: id).isEmpty)
        #expect(throws: CgroupError.self) { try cgroups.stats(id: id) }
    }

    @Test("cgroup paths: /pier/<id> under each v1 controller")
    func paths() {
        let cgroups = Cgroups(root: URL(fileURLWithPath: "/sys/fs/cgroup"), parent: "/pier")
        #expect(cgroups.path(id: "abc") == "/pier/abc")
        if cgroups.version == .v1 {
            #expect(cgroups.directory(controller: "memory", id: "abc").path == "/sys/fs/cgroup/memory/pier/abc")
        } else {
            #expect(cgroups.directory(controller: "memory", id: "abc").path == "/sys/fs/cgroup/pier/abc")
        }
    }
}

@Suite("Cgroup statistics from files")
struct CgroupStatsFileTests {
    func write(_ files: [String: String], under root: URL) throws {
        for (path, text) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    @Test("v1: CPU from cpuacct, memory without inactive file cache, no limit when unlimited")
    func v1() throws {
        let root = try TestSupport.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try write(
            [
                "cpuacct/pier/c1/cpuacct.usage": "123456789\n",
                "memory/pier/c1/memory.usage_in_bytes": "10485760\n",
                "memory/pier/c1/memory.stat": "cache 4096\ntotal_inactive_file 2097152\ninactive_file 1\n",
                "memory/pier/c1/memory.limit_in_bytes": "9223372036854771712\n",
                "pids/pier/c1/pids.current": "3\n",
            ], under: root)
        let cgroups = Cgroups(root: root, parent: "/pier")
        #expect(cgroups.version == .v1)
        #expect(
            try cgroups.stats(id: "c1") == ResourceUsage(cpuNanoseconds: 123_456_789, memoryBytes: 8 << 20, memoryLimitBytes: nil, pids: 3))
        try write(["memory/pier/c1/memory.limit_in_bytes": "67108864\n"], under: root)
        #expect(try cgroups.stats(id: "c1").memoryLimitBytes == 64 << 20)
        try write(["pids/pier/c1/pids.current": "garbage\n"], under: root)
        #expect(throws: CgroupError.self) { try cgroups.stats(id: "c1") }
    }

    @Test("v2: the unified hierarchy is detected and read")
    func v2() throws {
        let root = try TestSupport.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try write(
            [
                "cgroup.controllers": "cpu memory pids\n",
                "pier/c2/cpu.stat": "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n",
                "pier/c2/memory.current": "5242880\n",
                "pier/c2/memory.stat": "anon 1048576\ninactive_file 1048576\n",
                "pier/c2/memory.max": "max\n",
                "pier/c2/pids.current": "2\n",
            ], under: root)
        let cgroups = Cgroups(root: root, parent: "/pier")
        #expect(cgroups.version == .v2)
        #expect(
            try cgroups.stats(id: "c2") == ResourceUsage(cpuNanoseconds: 2_500_000, memoryBytes: 4 << 20, memoryLimitBytes: nil, pids: 2))
        try write(["pier/c2/memory.max": "33554432\n"], under: root)
        #expect(try cgroups.stats(id: "c2").memoryLimitBytes == 32 << 20)
        #expect(throws: CgroupError.notFound(id: "nope", path: root.appendingPathComponent("pier/nope").path)) {
            try cgroups.stats(id: "nope")
        }
    }
}

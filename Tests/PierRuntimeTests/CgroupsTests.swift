import PierTestSupport
import Foundation
import Testing

@testable import PierRuntime

@Suite("Cgroups", .requires(TestSupport.isRoot, "root (to create cgroups)"))
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

@Suite("Cgroup migration primer")
struct CgroupMigrationPrimerTests {
    @Test("finds the process's own cgroup.procs from /proc/self/cgroup: v2; v1 pids, else unified, else name=systemd")
    func ownProcsFile() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("primer-\(TestSupport.newID().prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        for dir in ["pids/system.slice/pier.service", "system.slice/pier.service", "pids", "unified/u", "systemd/s"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(dir), withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: root.appendingPathComponent(dir + "/cgroup.procs").path, contents: nil)
        }
        func file(_ relative: String) -> String { root.appendingPathComponent(relative + "/cgroup.procs").path }
        let hybrid = "12:cpu,cpuacct:/\n8:pids:/system.slice/pier.service\n1:name=systemd:/system.slice/pier.service\n0::/system.slice/pier.service\n"
        #expect(CgroupMigrationPrimer.ownProcsFile(root: root, version: .v1, selfCgroup: hybrid) == file("pids/system.slice/pier.service"))
        #expect(CgroupMigrationPrimer.ownProcsFile(root: root, version: .v2, selfCgroup: "0::/system.slice/pier.service\n")
            == file("system.slice/pier.service"))
        #expect(CgroupMigrationPrimer.ownProcsFile(root: root, version: .v1, selfCgroup: "8:pids:/\n") == file("pids"))
        // v1 without a pids hierarchy of its own: the hybrid's unified one, else name=systemd.
        #expect(CgroupMigrationPrimer.ownProcsFile(root: root, version: .v1, selfCgroup: "3:cpu,pids:/x\n0::/u\n1:name=systemd:/s\n")
            == file("unified/u"))
        #expect(CgroupMigrationPrimer.ownProcsFile(root: root, version: .v1, selfCgroup: "1:name=systemd:/s\n") == file("systemd/s"))
        // No such hierarchy, or its file is missing: nothing to write to.
        #expect(CgroupMigrationPrimer.ownProcsFile(root: root, version: .v1, selfCgroup: "4:memory:/\n") == nil)
        #expect(CgroupMigrationPrimer.ownProcsFile(root: root, version: .v2, selfCgroup: "0::/elsewhere\n") == nil)
    }

    @Test("prime() moves this process into the cgroup it is in: it happens, and nothing changes", .requires(TestSupport.isRoot, "root (to write cgroup.procs)"))
    func primeIsANoOpMigration() async throws {
        let before = try String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)
        let primer = CgroupMigrationPrimer()
        primer.prime()
        primer.prime()  // while one is under way: ignored
        #expect(await TestSupport.waitUntil(timeout: .seconds(10)) { !primer.isPriming })
        #expect(!primer.isDisabled)
        #expect(primer.migrations == 1)
        #expect(try String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) == before)
    }

    @Test("prime() writes only to a cgroup.procs that lists this process; any failure turns it off")
    func writesOnlyWhereItIs() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("primer-\(TestSupport.newID().prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func run(_ primer: CgroupMigrationPrimer) async {
            primer.prime()
            #expect(await TestSupport.waitUntil(timeout: .seconds(10)) { !primer.isPriming })
        }
        // Plain files standing in for cgroup.procs: what it writes can be read back.
        let mine = dir.appendingPathComponent("mine")
        try Data("1\n\(getpid())\n".utf8).write(to: mine)
        let primer = CgroupMigrationPrimer(locate: { mine.path })
        await run(primer)
        #expect(primer.migrations == 1 && !primer.isDisabled)
        #expect(try String(contentsOf: mine, encoding: .utf8).hasPrefix("\(getpid())\n"))
        await run(primer)
        #expect(primer.migrations == 2)

        // Not listed there (the agent was moved, or a namespace hides its real cgroup): no write, off.
        let other = dir.appendingPathComponent("other")
        try Data("1\n2\n".utf8).write(to: other)
        let elsewhere = CgroupMigrationPrimer(locate: { other.path })
        await run(elsewhere)
        #expect(elsewhere.isDisabled && elsewhere.migrations == 0)
        #expect(try String(contentsOf: other, encoding: .utf8) == "1\n2\n")
        elsewhere.prime()  // off: does not start
        #expect(!elsewhere.isPriming)

        for locate in [{ dir.path }, { nil }] as [@Sendable () -> String?] {  // unwritable, none
            let broken = CgroupMigrationPrimer(locate: locate)
            await run(broken)
            #expect(broken.isDisabled && broken.migrations == 0)
        }
    }
}

import Foundation
import PierImage
import Testing
@testable import PierClient

@Suite("pier image build options → build plan")
struct BuildOptionsTests {
    @Test func flagsBecomeLayersAndConfigChanges() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try dir.write("app/server", "#!/bin/sh\n")
        try dir.write("conf.toml", "x = 1\n")
        var o = BuildOptions()
        o.tag = "sensor:1.0"; o.from = "busybox"; o.adds = ["app:/app", "conf.toml:/etc/conf.toml"]
        o.entrypoint = #"["/app/server","--port","5683"]"#; o.cmd = "--verbose  -x"; o.env = ["MODE=prod", "EMPTY="]
        o.workdir = "/app"; o.user = "1000"; o.labels = ["tier=edge"]; o.expose = ["5683/udp", "80"]
        let plan = try o.plan(currentDirectory: URL(fileURLWithPath: dir.path))
        #expect(plan.baseReference == "busybox")
        #expect(plan.tag?.display == "sensor:1.0")
        #expect(plan.layers.map { $0.items.map(\.destination) } == [["/app"], ["/etc/conf.toml"]])
        #expect(plan.layers.first?.items.first?.source.path == dir.path + "/app")
        #expect(plan.changes.entrypoint == ["/app/server", "--port", "5683"])
        #expect(plan.changes.cmd == ["--verbose", "-x"])
        #expect(plan.changes.env == [EnvironmentVariable("MODE", "prod"), EnvironmentVariable("EMPTY", "")])
        #expect(plan.changes.workingDir == "/app")
        #expect(plan.changes.user == "1000")
        #expect(plan.changes.labels == ["tier": "edge"])
        #expect(plan.changes.exposedPorts == ["5683/udp", "80"])
    }

    @Test func scratchIsNoBase() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try dir.write("f", "x")
        var o = BuildOptions()
        o.from = "scratch"; o.adds = ["f:/f"]
        #expect(try o.plan(currentDirectory: URL(fileURLWithPath: dir.path)).baseReference == nil)
    }

    @Test func withLibsAppliesOnlyToELFExecutables() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try dir.write("script", "#!/bin/sh\n")
        var o = BuildOptions()
        o.adds = ["/bin/busybox:/bin/busybox", dir.path + "/script:/script"]
        o.withLibs = true
        let plan = try o.plan(currentDirectory: URL(fileURLWithPath: dir.path))
        #expect(plan.layers.map { $0.items[0].withLibs } == [true, false])
        o.adds = [dir.path + "/script:/script"]
        let error = #expect(throws: ClientError.self) { try o.plan(currentDirectory: URL(fileURLWithPath: dir.path)) }
        #expect(error?.description == "--with-libs: none of the --add sources is an ELF executable")
    }

    @Test(arguments: ["noDestination", "rel:relative", ":/x"])
    func badAddIsRefused(add: String) {
        var o = BuildOptions()
        o.adds = [add]
        let error = #expect(throws: ClientError.self) { try o.plan(currentDirectory: URL(fileURLWithPath: "/")) }
        #expect(error?.description.hasPrefix("--add \(add)") == true)
    }

    @Test func missingSourceIsRefused() {
        var o = BuildOptions()
        o.adds = ["/nonexistent/file:/file"]
        let error = #expect(throws: ClientError.self) { try o.plan(currentDirectory: URL(fileURLWithPath: "/")) }
        #expect(error?.description == "/nonexistent/file: --add /nonexistent/file:/file: the source does not exist")
    }

    @Test(arguments: [(["--expose", "0"]), (["--expose", "80/sctp"]), (["--env", "=x"]), (["--entrypoint", "[1,2]"]), (["--tag", "UPPER:1"])])
    func badConfigFlagsAreRefused(flag: [String]) {
        var o = BuildOptions()
        o.from = "busybox"
        switch flag[0] {
        case "--expose": o.expose = [flag[1]]
        case "--env": o.env = [flag[1]]
        case "--entrypoint": o.entrypoint = flag[1]
        default: o.tag = flag[1]
        }
        let error = #expect(throws: ClientError.self) { try o.plan(currentDirectory: URL(fileURLWithPath: "/")) }
        #expect(error?.description.hasPrefix(flag[0]) == true)
    }

    @Test func recipeIsReadRelativeToItsDirectory() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try dir.write("ctx/bin/app", "binary")
        try dir.write("ctx/Pierfile", """
        FROM busybox:1.36
        COPY bin/app /usr/local/bin/app
        ENV MODE=prod
        CMD ["app", "--serve"]
        """)
        var o = BuildOptions()
        o.recipe = "ctx/Pierfile"; o.tag = "app:1"
        let plan = try o.plan(currentDirectory: URL(fileURLWithPath: dir.path))
        #expect(plan.baseReference == "busybox:1.36")
        #expect(plan.layers.count == 1)
        #expect(plan.layers.first?.items.first?.destination == "/usr/local/bin/app")
        #expect(plan.changes.cmd == ["app", "--serve"])
    }

    @Test func recipeErrorsNameTheFileAndLine() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try dir.write("Pierfile", "FROM scratch\nRUN make\n")
        var o = BuildOptions()
        o.recipe = dir.path + "/Pierfile"
        let error = #expect(throws: ClientError.self) { try o.plan(currentDirectory: URL(fileURLWithPath: "/")) }
        #expect(error?.description.hasPrefix(dir.path + "/Pierfile: recipe line 2:") == true)
    }

    @Test func recipeAndBuildFlagsDoNotMix() {
        var o = BuildOptions()
        o.recipe = "Pierfile"; o.adds = ["a:/a"]
        #expect(throws: ClientError.self) { try o.plan(currentDirectory: URL(fileURLWithPath: "/")) }
    }

    @Test func planBuildsALayoutWithOnlyNewBlobs() throws {
        // The builder on a scratch plan: the request the plan makes is complete and buildable.
        let dir = try TempDir()
        defer { dir.remove() }
        try dir.write("hello.txt", "hello")
        var o = BuildOptions()
        o.adds = ["hello.txt:/hello.txt"]; o.tag = "hello:1"; o.cmd = "/hello"
        let plan = try o.plan(currentDirectory: URL(fileURLWithPath: dir.path))
        let result = try ImageBuilder().build(plan.request(base: nil), into: URL(fileURLWithPath: dir.path + "/layout"))
        #expect(result.newLayers.count == 1)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/layout/index.json"))
        var reader = try DirectoryTarReader(directory: dir.path + "/layout")
        var bytes = 0
        while let chunk = try reader.nextChunk() { bytes += chunk.count }
        #expect(Int64(bytes) == reader.totalSize)
    }
}

import Foundation
import Testing

@Suite(.serialized, .integrationHost, .timeLimit(.minutes(10)))
struct ImageAndNetworkTests {
    @Test func exportedImageIsReadBySkopeoAndImportsBack() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let archive = agent.root.appendingPathComponent("out.tar")
        try agent.ok("image", "export", "test/busybox:1", archive.path)
        let inspect = try runProcess("/usr/bin/skopeo", ["inspect", "oci-archive:\(archive.path)"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("\"Layers\""))
        // Through skopeo into a docker-archive, and back into pier.
        let docker = agent.root.appendingPathComponent("docker.tar")
        let copy = try runProcess("/usr/bin/skopeo", ["copy", "oci-archive:\(archive.path)", "docker-archive:\(docker.path):test/fromdocker:2"])
        #expect(copy.status == 0, "\(copy.stderr)")
        try agent.ok("image", "import", docker.path)
        let r = try agent.pier("run", "--rm", "--network", "none", "test/fromdocker:2", "echo", "hello")
        #expect(r.status == 0 && r.stdout == "hello\n", "\(r.stderr)")
    }

    @Test func imagesBuiltFromOneBaseStoreItOnce() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent, tag: "test/base:1")
        let ctx = agent.root.appendingPathComponent("apps")
        try FileManager.default.createDirectory(at: ctx, withIntermediateDirectories: true)
        try "one".write(to: ctx.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        try "two".write(to: ctx.appendingPathComponent("b.txt"), atomically: true, encoding: .utf8)
        try agent.ok("image", "build", "-t", "test/app-a:1", "--from", "test/base:1", "--add", "\(ctx.path)/a.txt:/app/a.txt")
        try agent.ok("image", "build", "-t", "test/app-b:1", "--from", "test/base:1", "--add", "\(ctx.path)/b.txt:/app/b.txt")
        // Both run, and the base's layers are unpacked once: its layers plus one per app.
        let baseInspect = try agent.ok("image", "inspect", "test/base:1")
        let baseLayers = try #require(try JSONSerialization.jsonObject(with: Data(baseInspect.utf8)) as? [[String: Any]])
            .first.flatMap { $0["diffIDs"] as? [String] }?.count
        #expect(try agent.pier("run", "--rm", "--network", "none", "test/app-a:1", "cat", "/app/a.txt").stdout == "one")
        #expect(try agent.pier("run", "--rm", "--network", "none", "test/app-b:1", "cat", "/app/b.txt").stdout == "two")
        let layers = try FileManager.default.contentsOfDirectory(atPath: agent.root.appendingPathComponent("layers").path)
            .filter { !$0.hasPrefix(".") }
        #expect(baseLayers != nil && layers.count == (baseLayers ?? 0) + 2)
        let df = try agent.ok("image", "du", "--format", "json")
        #expect(df.contains("\"sharedSize\""))
    }

    @Test func bridgeNetworkPublishesAPort() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let ctx = agent.root.appendingPathComponent("www")
        try FileManager.default.createDirectory(at: ctx, withIntermediateDirectories: true)
        try "hello from the container\n".write(to: ctx.appendingPathComponent("index.html"), atomically: true, encoding: .utf8)
        try agent.ok("run", "-d", "--name", "web", "-p", "18080:8080", "-v", "\(ctx.path):/www:ro", "test/busybox:1",
                     "httpd", "-f", "-p", "8080", "-h", "/www")
        let details = try agent.ok("inspect", "web")
        let ip = details.components(separatedBy: "\"ipAddress\"").dropFirst().first?
            .split(separator: "\"").dropFirst().first.map(String.init)
        #expect(ip?.hasPrefix(agent.subnetPrefix + ".") == true, "container has no address on its bridge: \(details)")
        var body = ""
        for _ in 0..<30 {
            // Through the published port on the bridge's gateway address (a local address).
            body = (try? runProcess("/usr/bin/python3", ["-c", "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://\(agent.gateway):18080/', timeout=2).read().decode())"]))?.stdout ?? ""
            if !body.isEmpty { break }
            usleep(100_000)
        }
        #expect(body == "hello from the container\n")
        try agent.ok("rm", "-f", "web")
        let rules = try runProcess("/usr/sbin/iptables-save", []).stdout
        #expect(!rules.contains("18080"))
    }
}

import Foundation
import Testing

/// `pier image du IMAGE… --from IMAGE… --deltas` on images built here: seed 001's absolute versus
/// incremental download cost, and what delta updates change in it.
@Suite("pier image du: install and update download cost", .serialized, .integrationHost, .timeLimit(.minutes(10)))
struct ImageDownloadCostTests {
    struct Analysis: Decodable {
        struct Image: Decodable { var name: String; var bytes: Int64; var uniqueBytes: Int64 }
        var images: [Image]
        var installBytes: Int64
        var separateBytes: Int64
        var updateBytes: Int64?
        var deltaBytes: Int64?
        var deltaLayers: Int?
    }

    @Test func anUpdateDownloadsTheChangedLayerOrItsDelta() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        let app = agent.root.appendingPathComponent("app")
        try FileManager.default.createDirectory(at: app, withIntermediateDirectories: true)
        for i in 0..<12 { try randomBytes(200_000).write(to: app.appendingPathComponent("part\(i).bin")) }
        func build(_ tag: String) throws {
            try agent.ok("image", "build", "--tag", tag, "--from", "scratch", "--add", "/bin/busybox:/bin/busybox",
                         "--add", "\(app.path):/app", "--entrypoint", "/bin/busybox")
        }
        try build("edge/app:1")
        try randomBytes(200_000).write(to: app.appendingPathComponent("part6.bin"))  // a code change
        try build("edge/app:2")

        let fresh = try JSONDecoder().decode(Analysis.self, from: Data(try agent.ok("image", "du", "--format", "json", "edge/app:1", "edge/app:2").utf8))
        // The busybox layer is shared: installing both takes less than each on its own.
        #expect(fresh.images.count == 2 && fresh.installBytes < fresh.separateBytes)
        #expect(fresh.images.allSatisfy { $0.uniqueBytes < $0.bytes && $0.bytes > 2_400_000 })
        #expect(fresh.updateBytes == nil)

        let update = try JSONDecoder().decode(Analysis.self, from: Data(
            try agent.ok("image", "du", "--format", "json", "--from", "edge/app:1", "--deltas", "edge/app:2").utf8))
        let changedLayer = try #require(update.updateBytes)
        // The app layer (2.4 MB of incompressible data) and config and manifest: not the busybox layer.
        #expect(changedLayer > 2_400_000 && changedLayer < update.installBytes)
        #expect(update.deltaLayers == 1)
        // One 200 kB file of twelve changed: the delta is about that file.
        let delta = try #require(update.deltaBytes)
        #expect(delta < changedLayer / 5, "delta \(delta) of \(changedLayer)")

        let table = try agent.ok("image", "du", "--from", "edge/app:1", "edge/app:2")
        #expect(table.contains("Fresh install:") && table.contains("Update from edge/app:1"))
        let refused = try agent.pier("image", "du", "--deltas", "edge/app:2")
        #expect(refused.status != 0 && refused.stderr.contains("--deltas needs --from"))
    }
}

func randomBytes(_ count: Int) -> Data {
    var generator = SystemRandomNumberGenerator()
    return Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
}

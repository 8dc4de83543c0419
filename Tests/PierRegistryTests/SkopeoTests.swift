import PierTestSupport
import Foundation
import PierOCI
import Testing
@testable import PierRegistry

/// A real client (skopeo, Debian package `skopeo`) reads the registry.
@Suite("skopeo against the registry", .requires(Requirement.executable(skopeoPath), "skopeo"), .timeLimit(.minutes(5)))
struct SkopeoTests {
    @Test("skopeo inspect and skopeo copy read an image with a multi-segment name")
    func inspectAndCopy() async throws {
        let server = try Stores()
        let image = try await storeImage("edge/sensor:1", layerSizes: [5000, 150_000], in: server)
        let out = try TempDir()
        try await withRegistry(server) { base in
            let host = "\(base.host ?? "127.0.0.1"):\(base.port ?? 0)"
            let inspect = try await runSkopeo(["inspect", "--tls-verify=false", "docker://\(host)/edge/sensor:1"], in: out)
            #expect(inspect.status == 0, "\(inspect.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
            #expect(json?["Layers"] as? [String] == image.layers.map(\.digest.description))
            #expect(json?["Architecture"] as? String == Platform.host.architecture)
            #expect(json?["Name"] as? String == "\(host)/edge/sensor")

            let tags = try await runSkopeo(["list-tags", "--tls-verify=false", "docker://\(host)/edge/sensor"], in: out)
            #expect(tags.status == 0, "\(tags.stderr)")
            #expect(tags.stdout.contains("\"1\""))

            // `dir:` keeps blobs as they are: byte-for-byte what the registry served.
            let dir = out.url.appendingPathComponent("dir")
            let copy = try await runSkopeo(["copy", "--src-tls-verify=false", "docker://\(host)/edge/sensor:1", "dir:\(dir.path)"], in: out)
            #expect(copy.status == 0, "\(copy.stderr)")
            for (layer, data) in zip(image.layers, image.layerData) {
                let file = dir.appendingPathComponent(layer.digest.encoded)
                #expect((try? Data(contentsOf: file)) == data, "layer \(layer.digest)")
            }
            let manifest = try Data(contentsOf: dir.appendingPathComponent("manifest.json"))
            #expect(Digest.sha256(of: manifest) == image.manifest)

            // `oci:` recompresses the uncompressed test layers, after verifying them against their digests.
            let layout = out.url.appendingPathComponent("layout")
            let oci = try await runSkopeo(
                ["copy", "--src-tls-verify=false", "docker://\(host)/edge/sensor:1", "oci:\(layout.path):copied"], in: out)
            #expect(oci.status == 0, "\(oci.stderr)")
            #expect(FileManager.default.fileExists(atPath: layout.appendingPathComponent("index.json").path))

            let missing = try await runSkopeo(["inspect", "--tls-verify=false", "docker://\(host)/edge/sensor:nope"], in: out)
            #expect(missing.status != 0)
            #expect(missing.stderr.contains("manifest unknown"), "\(missing.stderr)")
        }
    }
}

let skopeoPath = "/usr/bin/skopeo"

/// Runs skopeo with an insecure policy (no /etc/containers/policy.json needed), waiting
/// without blocking a thread of the cooperative pool.
func runSkopeo(_ arguments: [String], in dir: TempDir) async throws -> (status: Int32, stdout: String, stderr: String) {
    let id = UUID().uuidString
    let stdoutURL = dir.url.appendingPathComponent("\(id).out")
    let stderrURL = dir.url.appendingPathComponent("\(id).err")
    _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: skopeoPath)
    process.arguments = ["--insecure-policy"] + arguments
    process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
    process.standardError = try FileHandle(forWritingTo: stderrURL)
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try process.run() } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
    let stdout = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
    let stderr = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
    return (status, stdout, stderr)
}

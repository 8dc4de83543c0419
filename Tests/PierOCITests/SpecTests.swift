import Foundation
import Testing
@testable import PierOCI

@Suite("Image spec types")
struct SpecTests {
    static let d1 = "sha256:" + String(repeating: "1", count: 64)
    static let d2 = "sha256:" + String(repeating: "2", count: 64)

    @Test("a Docker-written config decodes with every field, and re-encodes with the spec's keys")
    func configKeys() throws {
        let json = """
        {"architecture":"arm","variant":"v7","os":"linux","os.version":"6.1","created":"2024-05-01T10:20:30.123456789Z",
         "author":"me","docker_version":"24.0",
         "config":{"User":"1000:1000","ExposedPorts":{"5683/udp":{}},"Env":["PATH=/bin"],"Entrypoint":["/app"],
           "Cmd":null,"Volumes":{"/data":{}},"WorkingDir":"/srv","Labels":{"a":"b"},"StopSignal":"SIGINT",
           "Healthcheck":{"Test":["CMD","/app","--health"],"Interval":30000000000,"Retries":3}},
         "rootfs":{"type":"layers","diff_ids":["\(Self.d1)","\(Self.d2)"]},
         "history":[{"created":"2024-05-01T10:20:30Z","created_by":"COPY app /app","empty_layer":false}]}
        """
        let config = try ImageConfig.decode(Data(json.utf8))
        #expect(config.platform == Platform(os: "linux", architecture: "arm", variant: "v7"))
        #expect(config.osVersion == "6.1")
        #expect(config.config?.user == "1000:1000")
        #expect(config.config?.exposedPorts?.keys.sorted() == ["5683/udp"])
        #expect(config.config?.cmd == nil)
        #expect(config.config?.healthcheck?.test == ["CMD", "/app", "--health"])
        #expect(config.config?.healthcheck?.interval == 30_000_000_000)
        #expect(config.rootfs.diffIDs.map { $0.description } == [Self.d1, Self.d2])
        #expect(config.history?.first?.createdBy == "COPY app /app")
        #expect(config.createdDate != nil, "nanosecond dates parse")

        let text = String(decoding: try config.encoded(), as: UTF8.self)
        for key in ["\"diff_ids\"", "\"os.version\"", "\"ExposedPorts\":{\"5683/udp\":{}}", "\"WorkingDir\"", "\"StopSignal\"",
                    "\"created_by\"", "\"Healthcheck\"", "\"Entrypoint\""] {
            #expect(text.contains(key), "encoded config has \(key)")
        }
        #expect(!text.contains("docker_version"))
    }

    @Test("manifests with unknown layer or config media types are refused, naming the blob")
    func unknownMediaTypes() throws {
        func manifest(config: String, layer: String) -> Data {
            Data("""
            {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)",
             "config":{"mediaType":"\(config)","digest":"\(Self.d1)","size":10},
             "layers":[{"mediaType":"\(layer)","digest":"\(Self.d2)","size":20}]}
            """.utf8)
        }
        #expect(try ImageManifest.decode(manifest(config: MediaType.ociConfig, layer: MediaType.dockerLayerTarGzip)).layers.count == 1)
        #expect {
            try ImageManifest.decode(manifest(config: MediaType.ociConfig, layer: "application/x-made-up"))
        } throws: { error in
            guard case ImageSpecError.unknownMediaType(let type, let blob, "layer") = error else { return false }
            return type == "application/x-made-up" && blob.description == Self.d2
        }
        #expect {
            try ImageManifest.decode(manifest(config: "application/vnd.cncf.helm.config.v1+json", layer: MediaType.ociLayerTar))
        } throws: { error in
            if case ImageSpecError.unknownMediaType(_, _, "config") = error { return true }
            return false
        }
    }

    @Test("schema version 1 and malformed JSON are refused")
    func badManifests() {
        #expect(throws: ImageSpecError.self) {
            try ImageManifest.decode(Data(#"{"schemaVersion":1,"config":{"mediaType":"x","digest":"\#(Self.d1)","size":1},"layers":[]}"#.utf8))
        }
        #expect(throws: ImageSpecError.self) { try ImageManifest.decode(Data("{not json".utf8)) }
        #expect(throws: ImageSpecError.self) { try ImageIndex.decode(Data(#"{"schemaVersion":2,"manifests":[{"digest":"sha256:zz"}]}"#.utf8)) }
    }

    @Test("the host platform follows uname -m", arguments: [
        ("x86_64", "linux/amd64"), ("aarch64", "linux/arm64/v8"), ("armv7l", "linux/arm/v7"), ("armv6l", "linux/arm/v6"),
    ])
    func hostPlatform(_ machine: String, _ expected: String) {
        #expect(Platform(machine: machine).description == expected)
    }

    @Test("the best manifest of an index is chosen for the host")
    func bestMatch() throws {
        func entry(_ arch: String, _ variant: String? = nil, _ n: Character) throws -> Descriptor {
            Descriptor(mediaType: MediaType.ociManifest, digest: try Digest(sha256Hex: String(repeating: n, count: 64)), size: 1,
                       platform: Platform(os: "linux", architecture: arch, variant: variant))
        }
        let index = [try entry("amd64", nil, "a"), try entry("arm64", "v8", "b"), try entry("arm", "v6", "c"), try entry("arm", "v7", "d"),
                     Descriptor(mediaType: MediaType.ociManifest, digest: try Digest(sha256Hex: String(repeating: "e", count: 64)), size: 1,
                                platform: Platform(os: "unknown", architecture: "unknown"))]
        #expect(Platform.bestMatch(in: index, for: Platform(machine: "x86_64"))?.digest.encoded.first == "a")
        #expect(Platform.bestMatch(in: index, for: Platform(machine: "aarch64"))?.digest.encoded.first == "b")
        #expect(Platform.bestMatch(in: index, for: Platform(machine: "armv7l"))?.digest.encoded.first == "d")
        #expect(Platform.bestMatch(in: index, for: Platform(machine: "armv6l"))?.digest.encoded.first == "c")
        #expect(Platform.bestMatch(in: Array(index.dropLast(2)), for: Platform(machine: "armv7l"))?.digest.encoded.first == "c",
                "a v7 host runs v6 when there is no v7")
        #expect(Platform.bestMatch(in: [try entry("arm", "v7", "d")], for: Platform(machine: "armv6l")) == nil)
        #expect(Platform.bestMatch(in: [try entry("riscv64", nil, "f")], for: Platform(machine: "x86_64")) == nil)
    }
}

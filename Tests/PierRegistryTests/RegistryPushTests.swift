import PierTestSupport
import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOHTTP1
import PierOCI
import Testing
@testable import PierRegistry

private let pushing = RegistryRoutes<BasicRequestContext>.Configuration(push: .init())

@Suite("Registry push: uploads, manifests, deletes")
struct RegistryPushTests {
    /// `Location` made absolute.
    static func absolute(_ location: String?, _ base: URL) -> String { base.absoluteString + (location ?? "") }

    @Test("a chunked upload resumes where the registry says, refuses a wrong digest, and stores nothing unverified")
    func chunkedResumableUpload() async throws {
        let stores = try Stores()
        let blob = randomData(250_000)
        let digest = Digest.sha256(of: blob)
        try await withRegistry(stores, configuration: pushing) { base in
            func raw(_ method: HTTPMethod = .GET, _ url: String, headers: [String: String] = [:], body: Data? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) async throws -> RawResponse {
                do { return try await PierRegistryTests.raw(method, url, headers: headers, body: body) } catch {
                    Issue.record("\(method) \(url): \(error)", sourceLocation: sourceLocation)
                    throw error
                }
            }
            let start = try await raw(.POST, "\(base)/v2/edge/app/blobs/uploads/")
            #expect(start.status == 202 && start.header("Range") == "0-0", "\(start)")
            let session = Self.absolute(start.header("Location"), base)
            #expect(start.header("Docker-Upload-UUID").map { session.hasSuffix($0) } == true)

            let first = try await raw(.PATCH, session, headers: ["Content-Range": "0-99999", "Content-Type": "application/octet-stream"],
                                      body: blob.prefix(100_000))
            #expect(first.status == 202 && first.header("Range") == "0-99999", "\(first)")
            // A chunk that does not start where the upload stands: 416, and where to resume.
            let gap = try await raw(.PATCH, session, headers: ["Content-Range": "150000-249999"], body: blob.suffix(100_000))
            #expect(gap.status == 416 && gap.header("Range") == "0-99999", "\(gap)")
            let status = try await raw(.GET, session)
            #expect(status.status == 204 && status.header("Range") == "0-99999")
            let rest = try await raw(.PATCH, session, headers: ["Content-Range": "100000-249999"], body: blob.suffix(150_000))
            #expect(rest.status == 202 && rest.header("Range") == "0-249999")

            let wrong = Digest.sha256(of: Data("something else".utf8))
            let refused = try await raw(.PUT, "\(session)?digest=\(wrong)")
            #expect(refused.status == 400 && refused.errorCodes == ["DIGEST_INVALID"], "\(refused)")
            let storedWrong = await stores.content.has(wrong), storedBlob = await stores.content.has(digest)
            #expect(!storedWrong && !storedBlob)
            #expect(try await raw(.GET, session).errorCodes == ["BLOB_UPLOAD_UNKNOWN"])

            // Again, to the end: the final PUT may carry the last chunk.
            let again = Self.absolute(try await raw(.POST, "\(base)/v2/edge/app/blobs/uploads/").header("Location"), base)
            _ = try await raw(.PATCH, again, body: blob.prefix(200_000))
            let done = try await raw(.PUT, "\(again)?digest=\(digest)", body: blob.suffix(50_000))
            #expect(done.status == 201 && done.header("Docker-Content-Digest") == digest.description, "\(done)")
            #expect(done.header("Location") == "/v2/edge/app/blobs/\(digest)")
            #expect(try await stores.content.read(digest, limit: 1 << 20) == blob)
            // Readable in the repository it was pushed to before any manifest names it.
            #expect(try await raw(.HEAD, "\(base)/v2/edge/app/blobs/\(digest)").status == 200)
        }
    }

    @Test("an upload session survives a restart of the registry")
    func sessionSurvivesRestart() async throws {
        let stores = try Stores()
        let blob = randomData(40_000)
        let path = try await withRegistry(stores, configuration: pushing) { base in
            let start = try await raw(.POST, "\(base)/v2/app/blobs/uploads/")
            let location = try #require(start.header("Location"))
            _ = try await raw(.PATCH, Self.absolute(location, base), body: blob.prefix(30_000))
            return location
        }
        try await withRegistry(stores, configuration: pushing) { base in
            let status = try await raw(.GET, Self.absolute(path, base))
            #expect(status.status == 204 && status.header("Range") == "0-29999")
            let done = try await raw(.PUT, "\(Self.absolute(path, base))?digest=\(Digest.sha256(of: blob))", body: blob.suffix(10_000))
            #expect(done.status == 201)
        }
    }

    @Test("monolithic uploads and mounts; a pull-only registry refuses pushes")
    func monolithicAndMount() async throws {
        let stores = try Stores()
        let blob = randomData(5000)
        let digest = Digest.sha256(of: blob)
        try await withRegistry(stores, configuration: pushing) { base in
            let mono = try await raw(.POST, "\(base)/v2/a/blobs/uploads/?digest=\(digest)", body: blob)
            #expect(mono.status == 201 && mono.header("Location") == "/v2/a/blobs/\(digest)", "\(mono)")
            let badMono = try await raw(.POST, "\(base)/v2/a/blobs/uploads/?digest=\(Digest.sha256(of: Data()))", body: blob)
            #expect(badMono.status == 400 && badMono.errorCodes == ["DIGEST_INVALID"])
            let mount = try await raw(.POST, "\(base)/v2/b/blobs/uploads/?mount=\(digest)&from=a")
            #expect(mount.status == 201 && mount.header("Location") == "/v2/b/blobs/\(digest)")
            let missing = try await raw(.POST, "\(base)/v2/b/blobs/uploads/?mount=\(Digest.sha256(of: Data("x".utf8)))&from=a")
            #expect(missing.status == 202 && missing.header("Location")?.contains("/v2/b/blobs/uploads/") == true)
            #expect(try await raw(.GET, "\(base)/v2/b/blobs/uploads/not-an-id").errorCodes == ["BLOB_UPLOAD_UNKNOWN"])
            #expect(try await raw(.GET, "\(base)/v2/b/blobs/uploads/../../x").status >= 400)
        }
        try await withRegistry(stores) { base in
            let refused = try await raw(.POST, "\(base)/v2/a/blobs/uploads/")
            #expect(refused.status == 405 && refused.errorCodes == ["UNSUPPORTED"])
        }
    }

    @Test("a manifest is stored and tagged only when every blob it names is there; deletes")
    func manifestsAndDeletes() async throws {
        let source = try Stores()
        let image = try await storeImage("src/app:1", layerSizes: [2000, 9000], withIndex: false, in: source)
        let manifest = try await source.content.read(image.manifest, limit: 1 << 20)
        let stores = try Stores()
        try await withRegistry(stores, configuration: pushing) { base in
            let headers = ["Content-Type": MediaType.ociManifest]
            let early = try await raw(.PUT, "\(base)/v2/edge/app/manifests/1", headers: headers, body: manifest)
            #expect(early.status == 400 && early.errorCodes == ["MANIFEST_BLOB_UNKNOWN"], "\(early)")
            #expect(await stores.images.list().isEmpty)
            for blob in image.blobs {
                let data = try await source.content.read(blob, limit: 1 << 20)
                #expect(try await raw(.POST, "\(base)/v2/edge/app/blobs/uploads/?digest=\(blob)", body: data).status == 201)
            }
            let wrongDigest = try await raw(.PUT, "\(base)/v2/edge/app/manifests/\(Digest.sha256(of: Data()))", headers: headers, body: manifest)
            #expect(wrongDigest.errorCodes == ["DIGEST_INVALID"])
            let garbage = try await raw(.PUT, "\(base)/v2/edge/app/manifests/1", headers: headers, body: Data("{\"x\":1}".utf8))
            #expect(garbage.errorCodes == ["MANIFEST_INVALID"])
            let pushed = try await raw(.PUT, "\(base)/v2/edge/app/manifests/1", headers: headers, body: manifest)
            #expect(pushed.status == 201 && pushed.header("Docker-Content-Digest") == image.manifest.description, "\(pushed)")
            let pulled = try await raw(.GET, "\(base)/v2/edge/app/manifests/1", headers: ["Accept": MediaType.ociManifest])
            #expect(pulled.status == 200 && pulled.body == manifest)
            #expect(try await raw(.GET, "\(base)/v2/edge/app/tags/list").body == Data(#"{"name":"edge/app","tags":["1"]}"#.utf8))

            // A layer in use cannot be deleted; the tag can, and then the layer can.
            let layer = image.layers[0].digest
            #expect(try await raw(.DELETE, "\(base)/v2/edge/app/blobs/\(layer)").errorCodes == ["DENIED"])
            #expect(try await raw(.DELETE, "\(base)/v2/edge/app/manifests/\(image.manifest)").status == 202)
            #expect(try await raw(.GET, "\(base)/v2/edge/app/manifests/1").status == 404)
            #expect(try await raw(.DELETE, "\(base)/v2/edge/app/manifests/1").status == 404)
            #expect(try await raw(.DELETE, "\(base)/v2/edge/app/blobs/\(layer)").status == 202)
            #expect(await !stores.content.has(layer))
        }
    }

    @Test("skopeo copy pushes an image (blobs, manifest, tag) between two registries", .requires(Requirement.executable(skopeoPath), "skopeo"))
    func skopeoPush() async throws {
        let source = try Stores()
        let image = try await storeImage("edge/sensor:1", layerSizes: [5000, 150_000], in: source)
        let target = try Stores()
        let out = try TempDir()
        try await withRegistry(source) { src in
            try await withRegistry(target, configuration: pushing) { dst in
                let from = "\(src.host ?? "127.0.0.1"):\(src.port ?? 0)", to = "\(dst.host ?? "127.0.0.1"):\(dst.port ?? 0)"
                // Without --all: the test index also names an arm64 manifest the source does not hold.
                let copy = try await runSkopeo(["copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                                                "docker://\(from)/edge/sensor:1", "docker://\(to)/edge/pushed:2"], in: out)
                #expect(copy.status == 0, "\(copy.stderr)")
                let inspect = try await runSkopeo(["inspect", "--tls-verify=false", "docker://\(to)/edge/pushed:2"], in: out)
                #expect(inspect.status == 0, "\(inspect.stderr)")
                let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
                // skopeo gzips the uncompressed test layers for a docker:// destination: two layers,
                // each in the target's store under the digest the pushed manifest names.
                let layers = json?["Layers"] as? [String] ?? []
                #expect(layers.count == image.layers.count)
                for layer in layers { #expect(await target.content.has(try Digest(parsing: layer)), "\(layer)") }
                let record = await target.images.list().first
                #expect(record?.reference.tag == "2" && record?.reference.path == "edge/pushed")
                let manifest = try await target.content.read(try #require(record?.manifest), limit: 1 << 20)
                #expect(try ImageManifest.decode(manifest).layers.map(\.digest.description) == layers)
                // Pushing again uploads nothing new and changes nothing.
                let again = try await runSkopeo(["copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                                                 "docker://\(from)/edge/sensor:1", "docker://\(to)/edge/pushed:2"], in: out)
                #expect(again.status == 0, "\(again.stderr)")
            }
        }
    }
}

@Suite("Referrers API")
struct ReferrersTests {
    @Test("a signature artifact is listed as a referrer of its subject, filtered by artifactType; a push with a subject answers OCI-Subject")
    func referrers() async throws {
        let stores = try Stores()
        let image = try await storeImage("edge/app:1", withIndex: false, in: stores)
        let subject = Descriptor(mediaType: MediaType.ociManifest, digest: image.manifest, size: Int64(image.manifestSize))
        let artifact = try SignatureArtifact.make(subject: subject, signatures: [try SigningKey().sign(image.manifest)])
        for blob in artifact.blobs { try await stores.content.ingest(data: blob, expecting: nil, size: nil) }
        let stored = try await stores.content.ingest(data: artifact.manifest, expecting: nil, size: nil)
        try await stores.images.tag(try ImageReference(parsing: "edge/app:\(SignatureArtifact.tag(for: image.manifest))"), manifest: stored.digest)
        try await withRegistry(stores, configuration: pushing) { base in
            let list = try await raw(.GET, "\(base)/v2/edge/app/referrers/\(image.manifest)")
            #expect(list.status == 200 && list.header("Content-Type") == MediaType.ociIndex)
            let index = try ImageIndex.decode(list.body)
            #expect(index.manifests.map(\.digest) == [stored.digest])
            #expect(index.manifests.first?.artifactType == SignatureArtifact.artifactType)
            let filtered = try await raw(.GET, "\(base)/v2/edge/app/referrers/\(image.manifest)?artifactType=application/x-sbom")
            let filteredIndex = try ImageIndex.decode(filtered.body)
            #expect(filteredIndex.manifests.isEmpty && filtered.header("OCI-Filters-Applied") == "artifactType")
            let none = try await raw(.GET, "\(base)/v2/edge/app/referrers/\(stored.digest)")
            let noneIndex = try ImageIndex.decode(none.body)
            #expect(none.status == 200 && noneIndex.manifests.isEmpty)

            // Pushing the artifact by digest to another repository: the registry says it keeps referrers.
            for blob in [image.config.digest] + image.layers.map(\.digest) + [Digest.sha256(of: artifact.blobs[0]), Digest.sha256(of: artifact.blobs[1])] {
                #expect(try await raw(.POST, "\(base)/v2/edge/copy/blobs/uploads/?mount=\(blob)&from=edge/app").status == 201)
            }
            let manifestData = try await stores.content.read(image.manifest, limit: 1 << 20)
            #expect(try await raw(.PUT, "\(base)/v2/edge/copy/manifests/1", headers: ["Content-Type": MediaType.ociManifest], body: manifestData).status == 201)
            let pushed = try await raw(.PUT, "\(base)/v2/edge/copy/manifests/\(stored.digest)", headers: ["Content-Type": MediaType.ociManifest],
                                       body: artifact.manifest)
            #expect(pushed.status == 201 && pushed.header("OCI-Subject") == image.manifest.description, "\(pushed)")
        }
    }
}

import Foundation
import Hummingbird
import PierOCI
import Testing
@testable import PierRegistry

@Suite("Registry wire rules")
struct RegistrySpecTests {
    @Test("single byte ranges resolve as RFC 9110 says")
    func byteRanges() {
        #expect(ByteRange.resolve(nil, length: 10) == .whole)
        #expect(ByteRange.resolve("bytes=2-5", length: 10) == .partial(ByteRange(first: 2, last: 5)))
        #expect(ByteRange.resolve("bytes=4-", length: 10) == .partial(ByteRange(first: 4, last: 9)))
        #expect(ByteRange.resolve("bytes=-3", length: 10) == .partial(ByteRange(first: 7, last: 9)))
        #expect(ByteRange.resolve("bytes=-30", length: 10) == .partial(ByteRange(first: 0, last: 9)))
        #expect(ByteRange.resolve("bytes=8-100", length: 10) == .partial(ByteRange(first: 8, last: 9)))
        #expect(ByteRange.resolve("bytes=10-", length: 10) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=0-", length: 0) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=-0", length: 10) == .unsatisfiable)
        // Ignored: several ranges, other units, garbage, a reversed range.
        #expect(ByteRange.resolve("bytes=0-1,4-5", length: 10) == .whole)
        #expect(ByteRange.resolve("items=0-1", length: 10) == .whole)
        #expect(ByteRange.resolve("bytes=a-b", length: 10) == .whole)
        #expect(ByteRange.resolve("bytes=5-2", length: 10) == .whole)
        #expect(ByteRange(first: 2, last: 5).contentRange(length: 10) == "bytes 2-5/10")
    }

    @Test("repository names follow the distribution-spec grammar")
    func repositoryNames() {
        for valid in ["a", "edge/sensor", "a/b/c/d", "my-app", "my__app", "x.y/z_1", "0/1"] {
            #expect(RepositoryName.isValid(valid), "\(valid)")
        }
        for invalid in ["", "Edge", "edge//sensor", "/edge", "edge/", "a..b", "-a", "a_", "a___b", "a b", "a:1"] {
            #expect(!RepositoryName.isValid(invalid), "\(invalid)")
        }
        #expect(RepositoryName.isValidTag("v1.0_rc-2"))
        #expect(!RepositoryName.isValidTag(".hidden"))
        #expect(!RepositoryName.isValidTag(String(repeating: "a", count: 129)))
    }

    @Test("error bodies encode as the spec's JSON")
    func errorBody() throws {
        let body = RegistryErrorBody(.manifestUnknown, message: "no such tag", detail: "tags: 1")
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(body)) as? [String: Any]
        let errors = json?["errors"] as? [[String: Any]]
        #expect(errors?.first?["code"] as? String == "MANIFEST_UNKNOWN")
        #expect(errors?.first?["message"] as? String == "no such tag")
        #expect(RegistryErrorCode.manifestUnknown.status == 404)
        #expect(RegistryErrorCode.digestInvalid.status == 400)
        #expect(RegistryErrorCode.unauthorized.status == 401)
    }

    @Test("repositories map to reference paths, official images by their short name too")
    func repositories() throws {
        let digest = Digest.sha256(of: Data("m".utf8))
        let records = try [
            ImageRecord(reference: ImageReference(parsing: "busybox:1"), manifest: digest),
            ImageRecord(reference: ImageReference(parsing: "edge/sensor:2"), manifest: digest),
            ImageRecord(reference: ImageReference(parsing: "localhost:5000/edge/sensor:2"), manifest: Digest.sha256(of: Data("x".utf8))),
            ImageRecord(reference: ImageReference(parsing: "localhost:5000/edge/sensor:3"), manifest: digest),
        ]
        let repositories = RegistryRepositories(records: records)
        #expect(repositories.names == ["edge/sensor", "library/busybox"])
        #expect(repositories.resolve("busybox") == "library/busybox")
        #expect(repositories.resolve("edge") == nil)
        #expect(repositories.tags(in: "edge/sensor") == ["2", "3"])
        // Docker Hub wins a path and tag that several hosts share.
        #expect(repositories.record("edge/sensor", tag: "2")?.manifest == digest)
    }

    @Test("a tag from an index serves the index unless Accept excludes it")
    func negotiation() throws {
        let manifest = Digest.sha256(of: Data("m".utf8))
        let index = Digest.sha256(of: Data("i".utf8))
        let record = ImageRecord(reference: try ImageReference(parsing: "app:1"), manifest: manifest, index: index)
        #expect(negotiate(record, []) == index)
        #expect(negotiate(record, ["application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"]) == index)
        #expect(negotiate(record, ["application/vnd.docker.distribution.manifest.v2+json;q=0.9"]) == manifest)
        #expect(negotiate(record, ["*/*"]) == index)
        #expect(negotiate(record, ["text/plain"]) == index)
        let plain = ImageRecord(reference: record.reference, manifest: manifest)
        #expect(negotiate(plain, ["application/vnd.oci.image.index.v1+json"]) == manifest)
    }
}

private func negotiate(_ record: ImageRecord, _ accept: [String]) -> Digest {
    RegistryRoutes<BasicRequestContext>.negotiate(record, accept: accept)
}

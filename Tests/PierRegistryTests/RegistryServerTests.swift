import Foundation
import Hummingbird
import PierOCI
import Testing
@testable import PierRegistry

@Suite("Registry routes over HTTP")
struct RegistryServerTests {
    @Test("GET /v2/ answers 200 with the API version header")
    func ping() async throws {
        let stores = try Stores()
        try await withRegistry(stores) { base in
            for path in ["/v2/", "/v2"] {
                let response = try await raw(.GET, base.absoluteString + path)
                #expect(response.status == 200, "\(path)")
                #expect(response.header("Docker-Distribution-API-Version") == "registry/2.0")
            }
        }
    }

    @Test("manifests by tag and digest carry type, digest and length; HEAD sends no body")
    func manifests() async throws {
        let stores = try Stores()
        let image = try await storeImage("edge/sensor:1", in: stores)
        let index = try #require(image.index)
        try await withRegistry(stores) { base in
            let url = base.absoluteString + "/v2/edge/sensor/manifests/1"
            let get = try await raw(.GET, url)
            #expect(get.status == 200)
            #expect(get.header("Content-Type") == MediaType.ociIndex)
            #expect(get.header("Docker-Content-Digest") == index.description)
            #expect(Digest.sha256(of: get.body) == index)
            #expect(get.header("Content-Length") == String(get.body.count))

            let head = try await raw(.HEAD, url)
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            #expect(head.header("Content-Length") == String(get.body.count))
            #expect(head.header("Docker-Content-Digest") == index.description)

            // A client that reads only image manifests gets the tag's platform manifest.
            let manifestOnly = try await raw(.GET, url, headers: ["Accept": MediaType.ociManifest])
            #expect(manifestOnly.header("Docker-Content-Digest") == image.manifest.description)
            #expect(manifestOnly.header("Content-Type") == MediaType.ociManifest)

            let byDigest = try await raw(.GET, base.absoluteString + "/v2/edge/sensor/manifests/\(image.manifest)")
            #expect(byDigest.status == 200)
            #expect(Digest.sha256(of: byDigest.body) == image.manifest)
            #expect(byDigest.header("Content-Length") == String(image.manifestSize))
        }
    }

    @Test("blobs stream whole or by one byte range, 416 past the end")
    func blobsAndRanges() async throws {
        let stores = try Stores()
        let image = try await storeImage("edge/sensor:1", layerSizes: [70_000], in: stores)
        let layer = image.layers[0]
        let data = image.layerData[0]
        try await withRegistry(stores) { base in
            let url = base.absoluteString + "/v2/edge/sensor/blobs/\(layer.digest)"
            let whole = try await raw(.GET, url)
            #expect(whole.status == 200)
            #expect(whole.body == data)
            #expect(whole.header("Docker-Content-Digest") == layer.digest.description)
            #expect(whole.header("Accept-Ranges") == "bytes")

            let head = try await raw(.HEAD, url)
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "70000")
            #expect(head.body.isEmpty)

            let part = try await raw(.GET, url, headers: ["Range": "bytes=100-60099"])
            #expect(part.status == 206)
            #expect(part.header("Content-Range") == "bytes 100-60099/70000")
            #expect(part.header("Content-Length") == "60000")
            #expect(part.body == data.subdata(in: 100..<60100))

            let tail = try await raw(.GET, url, headers: ["Range": "bytes=-10"])
            #expect(tail.status == 206)
            #expect(tail.body == data.suffix(10))

            let open = try await raw(.GET, url, headers: ["Range": "bytes=69990-"])
            #expect(open.body == data.suffix(10))

            let beyond = try await raw(.GET, url, headers: ["Range": "bytes=70000-"])
            #expect(beyond.status == 416)
            #expect(beyond.header("Content-Range") == "bytes */70000")
            #expect(beyond.errorCodes == ["RANGE_INVALID"])
        }
    }

    @Test("unknown names, manifests and blobs get the spec's error JSON")
    func errors() async throws {
        let stores = try Stores()
        let image = try await storeImage("edge/sensor:1", in: stores)
        let other = try await storeImage("edge/other:1", in: stores)
        try await withRegistry(stores) { base in
            let b = base.absoluteString
            let cases: [(String, String, Int, String)] = [
                ("GET", "/v2/edge/sensor/manifests/2", 404, "MANIFEST_UNKNOWN"),
                ("GET", "/v2/edge/sensor/manifests/\(Digest.sha256(of: Data("x".utf8)))", 404, "MANIFEST_UNKNOWN"),
                ("GET", "/v2/edge/sensor/manifests/\(other.manifest)", 404, "MANIFEST_UNKNOWN"),
                ("GET", "/v2/edge/nothing/manifests/1", 404, "NAME_UNKNOWN"),
                ("GET", "/v2/edge/nothing/tags/list", 404, "NAME_UNKNOWN"),
                ("GET", "/v2/edge/sensor/blobs/\(Digest.sha256(of: Data("x".utf8)))", 404, "BLOB_UNKNOWN"),
                // A blob of another repository is not served under this one.
                ("GET", "/v2/edge/sensor/blobs/\(other.layers[0].digest)", 404, "BLOB_UNKNOWN"),
                ("GET", "/v2/edge/sensor/blobs/sha256:1234", 400, "DIGEST_INVALID"),
                ("GET", "/v2/edge/sensor/blobs/md5:abcd", 400, "DIGEST_INVALID"),
                ("GET", "/v2/Edge/sensor/manifests/1", 400, "NAME_INVALID"),
                ("GET", "/v2/edge/sensor/tags/list?n=x", 400, "PAGINATION_NUMBER_INVALID"),
                ("PUT", "/v2/edge/sensor/manifests/2", 405, "UNSUPPORTED"),
                ("POST", "/v2/edge/sensor/blobs/uploads/", 405, "UNSUPPORTED"),
                ("DELETE", "/v2/edge/sensor/blobs/\(image.layers[0].digest)", 405, "UNSUPPORTED"),
            ]
            for (method, path, status, code) in cases {
                let response = try await raw(.init(rawValue: method), b + path)
                #expect(response.status == status, "\(method) \(path)")
                #expect(response.errorCodes == [code], "\(method) \(path): \(String(decoding: response.body, as: UTF8.self))")
                #expect(response.header("Content-Type") == "application/json", "\(method) \(path)")
            }
            // HEAD of an unknown manifest: the status without a body.
            let head = try await raw(.HEAD, b + "/v2/edge/sensor/manifests/2")
            #expect(head.status == 404)
            #expect(head.body.isEmpty)
        }
        #expect(await stores.content.has(image.layers[0].digest))
    }

    @Test("tags and catalog page with n and last and link to the next page")
    func pagination() async throws {
        let stores = try Stores()
        for tag in ["a", "b", "c"] { try await storeImage("edge/sensor:\(tag)", layerSizes: [10], withIndex: false, in: stores) }
        try await storeImage("busybox:latest", layerSizes: [10], withIndex: false, in: stores)
        try await storeImage("site/line/3/plc:1", layerSizes: [10], withIndex: false, in: stores)
        try await withRegistry(stores) { base in
            let b = base.absoluteString
            let all = try await JSONDecoder().decode(TagList.self, from: raw(.GET, b + "/v2/edge/sensor/tags/list").body)
            #expect(all == TagList(name: "edge/sensor", tags: ["a", "b", "c"]))

            let first = try await raw(.GET, b + "/v2/edge/sensor/tags/list?n=2")
            #expect(try JSONDecoder().decode(TagList.self, from: first.body).tags == ["a", "b"])
            #expect(first.header("Link") == "</v2/edge/sensor/tags/list?last=b&n=2>; rel=\"next\"")
            let second = try await raw(.GET, b + "/v2/edge/sensor/tags/list?n=2&last=b")
            #expect(try JSONDecoder().decode(TagList.self, from: second.body).tags == ["c"])
            #expect(second.header("Link") == nil)

            let catalog = try await JSONDecoder().decode(Catalog.self, from: raw(.GET, b + "/v2/_catalog").body)
            #expect(catalog.repositories == ["edge/sensor", "library/busybox", "site/line/3/plc"])
            let page = try await JSONDecoder().decode(Catalog.self, from: raw(.GET, b + "/v2/_catalog?n=1&last=edge/sensor").body)
            #expect(page.repositories == ["library/busybox"])

            // The short name of an official image reaches it too.
            let short = try await raw(.GET, b + "/v2/busybox/tags/list")
            #expect(short.status == 200)
        }
    }

    @Test("the authorization hook decides before the store is read")
    func authorization() async throws {
        let stores = try Stores()
        let image = try await storeImage("edge/sensor:1", in: stores)
        let configuration = RegistryRoutes<BasicRequestContext>.Configuration(authorize: { request, _, action in
            guard let token = request.headers[.authorization] else { return .unauthorized("present a node certificate") }
            if token == "Bearer node-a", action.repository == "edge/sensor" || action == .ping { return .allow }
            return .denied("node-a may read edge/sensor only")
        })
        try await withRegistry(stores, configuration: configuration) { base in
            let b = base.absoluteString
            let anonymous = try await raw(.GET, b + "/v2/edge/sensor/manifests/1")
            #expect(anonymous.status == 401)
            #expect(anonymous.errorCodes == ["UNAUTHORIZED"])
            let catalog = try await raw(.GET, b + "/v2/_catalog", headers: ["Authorization": "Bearer node-a"])
            #expect(catalog.status == 403)
            #expect(catalog.errorCodes == ["DENIED"])
            let allowed = try await raw(.GET, b + "/v2/edge/sensor/manifests/1", headers: ["Authorization": "Bearer node-a"])
            #expect(allowed.status == 200)

            let target = try Stores()
            let result = try await withClient(base, into: target, configuration: .init(headers: ["Authorization": "Bearer node-a"])) {
                try await $0.pull("edge/sensor:1")
            }
            #expect(result.manifest == image.manifest)
        }
    }
}

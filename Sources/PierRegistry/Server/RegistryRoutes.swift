import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PierOCI

/// The pull side of an OCI distribution-spec v1.1 registry, serving the images of a content
/// store and its references, added to a Hummingbird router:
///
///     GET      /v2/                             200, Docker-Distribution-API-Version
///     GET      /v2/_catalog?n=&last=            repositories
///     GET      /v2/<name>/tags/list?n=&last=    tags
///     GET|HEAD /v2/<name>/manifests/<tag|digest>
///     GET|HEAD /v2/<name>/blobs/<digest>        single `Range: bytes=a-b` → 206
///
/// `<name>` may have several segments (`edge/sensor`); see `RegistryRepositories` for how
/// references map to repositories. A blob or manifest is served only when it is reachable from
/// a tag of the repository it is asked under. Push, delete and uploads answer 405 `UNSUPPORTED`.
public struct RegistryRoutes<Context: RequestContext>: Sendable {
    /// Settings of the routes.
    public struct Configuration: Sendable {
        /// Largest page of `_catalog` and `tags/list`, and the page size when `n` is absent.
        public var maxPageSize: Int
        /// Decides each request before the store is touched; nil allows everything.
        public var authorize: (@Sendable (Request, Context, RegistryAction) async -> RegistryAuthorization)?

        public init(
            maxPageSize: Int = 1000,
            authorize: (@Sendable (Request, Context, RegistryAction) async -> RegistryAuthorization)? = nil
        ) {
            self.maxPageSize = maxPageSize
            self.authorize = authorize
        }
    }

    public let content: LocalContentStore
    public let images: ImageStore
    public let configuration: Configuration

    public init(content: LocalContentStore, images: ImageStore, configuration: Configuration = Configuration()) {
        self.content = content
        self.images = images
        self.configuration = configuration
    }

    /// Adds the `/v2/` routes to `router`, which must be the root router (not a group with a prefix).
    public func addRoutes(to router: some RouterMethods<Context>) {
        let routes = self
        for method in [HTTPRequest.Method.get, .head] {
            router.on("v2", method: method) { request, context in await routes.respond(request, context) }
        }
        for method in [HTTPRequest.Method.get, .head, .put, .post, .patch, .delete] {
            router.on("v2/**", method: method) { request, context in await routes.respond(request, context) }
        }
    }

    /// Answers one request; every failure becomes a distribution-spec error response.
    func respond(_ request: Request, _ context: Context) async -> Response {
        var response: Response
        do {
            let action = try Self.action(for: request)
            if let authorize = configuration.authorize {
                switch await authorize(request, context, action) {
                case .allow: break
                case .unauthorized(let reason): throw RegistryHTTPError(.unauthorized, "authentication required", detail: reason)
                case .denied(let reason): throw RegistryHTTPError(.denied, "access to the resource was denied", detail: reason)
                }
            }
            response = try await perform(action, request: request, context: context)
        } catch let error as RegistryHTTPError {
            response = RegistryHTTPError.response(
                status: error.status, body: RegistryErrorBody(error.code, message: error.message, detail: error.detail),
                headers: error.headers)
        } catch {
            context.logger.error("registry: \(request.method) \(request.uri.path) failed: \(error)")
            response = RegistryHTTPError.response(
                status: .internalServerError,
                body: RegistryErrorBody(errors: [.init(code: "UNKNOWN", message: "the registry failed to read its store",
                                                       detail: "\(error)")]))
        }
        response.headers[.dockerDistributionAPIVersion] = "registry/2.0"
        return response
    }

    private func perform(_ action: RegistryAction, request: Request, context: Context) async throws -> Response {
        switch action {
        case .ping:
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: "{}")))
        case .catalog:
            let repositories = RegistryRepositories(records: await images.list())
            return try page(repositories.names, request: request, path: "/v2/_catalog") { Catalog(repositories: $0) }
        case .listTags(let name):
            let repository = try await repository(name)
            return try page(repository.tags, request: request, path: "/v2/\(name)/tags/list") {
                TagList(name: name, tags: $0)
            }
        case .pullManifest(let name, let reference):
            return try await manifest(reference, in: repository(name), request: request)
        case .pullBlob(let name, let digest):
            return try await blob(digest, in: repository(name), request: request, context: context)
        case .unsupported(let method, let path):
            throw RegistryHTTPError(.unsupported, "\(method) \(path) is not supported: this registry only serves pulls",
                                    detail: "push images with `pier image import` on the manager")
        }
    }

    // MARK: Routing

    /// Parses the path below `/v2/`. Names may contain slashes, so the operation is found from
    /// the end: `…/manifests/<ref>`, `…/blobs/<digest>`, `…/tags/list`.
    static func action(for request: Request) throws(RegistryHTTPError) -> RegistryAction {
        let rawPath = request.uri.path
        let path = rawPath.removingPercentEncoding ?? rawPath
        var segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // Leading "" and "v2"; a trailing "/" leaves an empty last segment.
        guard segments.count >= 2, segments[0].isEmpty, segments[1] == "v2" else {
            throw RegistryHTTPError(.unsupported, "\(rawPath) is not a registry path")
        }
        segments.removeFirst(2)
        if segments.last == "" { segments.removeLast() }
        let isRead = request.method == .get || request.method == .head
        guard isRead else { return .unsupported(method: request.method.rawValue, path: rawPath) }
        if segments.isEmpty { return .ping }
        if segments == ["_catalog"] { return .catalog }
        let count = segments.count
        var operation: (name: ArraySlice<String>, action: (String) -> RegistryAction)?
        if count >= 3, segments[count - 2] == "tags", segments[count - 1] == "list" {
            operation = (segments[..<(count - 2)], { .listTags(repository: $0) })
        } else if count >= 3, segments[count - 2] == "manifests" {
            let reference = segments[count - 1]
            operation = (segments[..<(count - 2)], { .pullManifest(repository: $0, reference: reference) })
        } else if count >= 3, segments[count - 2] == "blobs" {
            let digest = segments[count - 1]
            operation = (segments[..<(count - 2)], { .pullBlob(repository: $0, digest: digest) })
        }
        guard let operation else {
            if segments.contains("uploads") { return .unsupported(method: request.method.rawValue, path: rawPath) }
            throw RegistryHTTPError(.unsupported, "\(rawPath) is not a distribution-spec endpoint",
                                    detail: "expected /v2/<name>/manifests/<reference>, /v2/<name>/blobs/<digest> or /v2/<name>/tags/list")
        }
        let name = operation.name.joined(separator: "/")
        guard RepositoryName.isValid(name) else {
            throw RegistryHTTPError(.nameInvalid, "\"\(name)\" is not a valid repository name",
                                    detail: "path components of lowercase letters and digits, separated by . _ __ or -, joined by /")
        }
        return operation.action(name)
    }

    /// The repository `name` refers to; `NAME_UNKNOWN` when no tag is stored under it.
    private func repository(_ name: String) async throws(RegistryHTTPError) -> Repository {
        let all = RegistryRepositories(records: await images.list())
        guard let resolved = all.resolve(name) else {
            throw RegistryHTTPError(.nameUnknown, "repository \(name) is not known to this registry",
                                    detail: "import or tag an image named \(name) on the manager")
        }
        return Repository(name: name, tags: all.tags(in: resolved), records: all.records(in: resolved),
                          lookup: { all.record(resolved, tag: $0) })
    }

    /// One repository's view of the store for a request.
    struct Repository {
        var name: String
        var tags: [String]
        var records: [ImageRecord]
        var lookup: (String) -> ImageRecord?

        /// The digests a tag of the repository keeps alive: its manifests and indexes.
        var roots: Set<Digest> {
            var roots = Set<Digest>()
            for record in records {
                roots.insert(record.manifest)
                if let index = record.index { roots.insert(index) }
            }
            return roots
        }
    }

    // MARK: Pagination

    /// One page of a sorted list, honouring `n` and `last`, with a `Link` to the next page.
    private func page<T: Encodable>(
        _ all: [String], request: Request, path: String, wrap: ([String]) -> T
    ) throws -> Response {
        let query = request.uri.queryParameters
        var limit = configuration.maxPageSize
        if let n = query["n"] {
            guard let parsed = Int(String(n)), parsed >= 0 else {
                throw RegistryHTTPError(.paginationNumberInvalid, "n=\(n) is not a non-negative number")
            }
            limit = min(parsed, configuration.maxPageSize)
        }
        var remaining = all[...]
        if let last = query["last"].map(String.init) {
            remaining = remaining.drop { $0 <= last }
        }
        let page = Array(remaining.prefix(limit))
        var headers: HTTPFields = [.contentType: "application/json"]
        if page.count < remaining.count, let lastReturned = page.last {
            let escaped = lastReturned.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? lastReturned
            headers[.link] = "<\(path)?last=\(escaped)&n=\(limit)>; rel=\"next\""
        }
        let data = try SpecJSON.encode(wrap(page))
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

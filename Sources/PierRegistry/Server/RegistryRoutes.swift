import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PierOCI

/// An OCI distribution-spec v1.1 registry serving the images of a content store and its
/// references, added to a Hummingbird router:
///
///     GET      /v2/                             200, Docker-Distribution-API-Version
///     GET      /v2/_catalog?n=&last=            repositories
///     GET      /v2/<name>/tags/list?n=&last=    tags
///     GET|HEAD /v2/<name>/manifests/<tag|digest>
///     GET|HEAD /v2/<name>/blobs/<digest>        single `Range: bytes=a-b` → 206
///
/// `<name>` may have several segments (`edge/sensor`); see `RegistryRepositories` for how
/// references map to repositories. A blob or manifest is served only when it is reachable from
/// a tag of the repository it is asked under. With `Configuration.push` it also takes pushes
/// (RegistryRoutes+Push.swift): uploads (monolithic, chunked and resumable), mounts, manifests,
/// and deletes; without it those answer 405 `UNSUPPORTED`.
public struct RegistryRoutes<Context: RequestContext>: Sendable {
    /// Settings of the routes.
    public struct Configuration: Sendable {
        /// Largest page of `_catalog` and `tags/list`, and the page size when `n` is absent.
        public var maxPageSize: Int
        /// Decides each request before the store is touched; nil allows everything.
        public var authorize: (@Sendable (Request, Context, RegistryAction) async -> RegistryAuthorization)?

        /// Accept pushes and deletes; nil serves pulls only (writes answer 405 `UNSUPPORTED`).
        public var push: PushSettings?
        /// The `zstd` program that computes delta patches (`_pier/delta`); nil serves none.
        public var zstdPath: String? = RegistryDeltas.defaultZstd
        /// Patches computed at the same time; a request beyond them answers 429 `TOOMANYREQUESTS`
        /// with `Retry-After` (patches already computed are served regardless).
        public var maxConcurrentDeltas: Int = 2
        /// Largest base plus target a patch is computed for (zstd holds both in memory); beyond
        /// it the delta answers 404 and the client downloads the blob.
        public var maxDeltaInputBytes: Int64 = 1 << 30
        /// Longest one patch computation may run; then zstd is killed and the delta answers 404.
        public var deltaTimeLimit: Duration = .seconds(300)
        /// Who a request comes from, for the per-client limits (upload sessions); nil uses the
        /// peer's IP address when the context knows it.
        public var client: (@Sendable (Request, Context) -> String)?

        public init(
            maxPageSize: Int = 1000,
            authorize: (@Sendable (Request, Context, RegistryAction) async -> RegistryAuthorization)? = nil,
            push: PushSettings? = nil
        ) {
            self.maxPageSize = maxPageSize
            self.authorize = authorize
            self.push = push
        }
    }

    /// How pushes are accepted.
    public struct PushSettings: Sendable {
        /// Largest blob one upload may write.
        public var maxBlobBytes: Int64
        /// The platform whose manifest a tag of a pushed index points at in the image store
        /// (the index itself is kept and served whole).
        public var platform: Platform
        /// Upload sessions open at once, and per client (`Configuration.client`); a session
        /// beyond them answers 429 `TOOMANYREQUESTS` with `Retry-After`.
        public var maxSessions: Int
        public var maxSessionsPerClient: Int
        /// A session nobody wrote to for this long is abandoned: it is removed with its bytes.
        public var sessionIdleLimit: Duration

        public init(
            maxBlobBytes: Int64 = 16 << 30, platform: Platform = .host, maxSessions: Int = 64, maxSessionsPerClient: Int = 8,
            sessionIdleLimit: Duration = .seconds(3600)
        ) {
            self.maxBlobBytes = maxBlobBytes
            self.platform = platform
            self.maxSessions = maxSessions
            self.maxSessionsPerClient = maxSessionsPerClient
            self.sessionIdleLimit = sessionIdleLimit
        }
    }

    public let content: LocalContentStore
    public let images: ImageStore
    public let configuration: Configuration
    /// Upload sessions, when the registry accepts pushes (`Configuration.push`).
    let uploads: RegistryUploads?
    /// Delta patches being computed.
    let deltaSlots: WorkSlots

    public init(content: LocalContentStore, images: ImageStore, configuration: Configuration = Configuration()) {
        self.content = content
        self.images = images
        self.configuration = configuration
        self.uploads = configuration.push.map { RegistryUploads(directory: content.root.appendingPathComponent("uploads"), settings: $0) }
        self.deltaSlots = WorkSlots(limit: configuration.maxConcurrentDeltas)
    }

    /// Who a request comes from, for per-client limits.
    func client(of request: Request, _ context: Context) -> String {
        if let identify = configuration.client { return identify(request, context) }
        return (context as? any RemoteAddressRequestContext)?.remoteAddress?.ipAddress ?? "unknown"
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
                // The reason is the message: clients (skopeo, docker) print the message, not the detail.
                case .unauthorized(let reason, let challenge):
                    var headers = HTTPFields()
                    if let challenge { headers[.wwwAuthenticate] = challenge }
                    throw RegistryHTTPError(.unauthorized, "authentication required: \(reason)", headers: headers)
                case .denied(let reason): throw RegistryHTTPError(.denied, "access denied: \(reason)")
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
            return try await manifest(reference, in: readableRepository(name), request: request)
        case .pullBlob(let name, let digest):
            return try await blob(digest, in: readableRepository(name), request: request, context: context)
        case .listReferrers(let name, let digest):
            return try await referrers(digest, in: repository(name), request: request)
        case .pullDelta(let name, let digest):
            return try await delta(digest, in: readableRepository(name), request: request, context: context)
        case .startUpload, .upload, .pushManifest, .deleteManifest, .deleteBlob:
            guard let uploads else {
                throw RegistryHTTPError(.unsupported, "this registry only serves pulls", detail: "push images to the manager's registry")
            }
            return try await write(action, uploads: uploads, request: request, context: context, client: client(of: request, context))
        case .unsupported(let method, let path):
            throw RegistryHTTPError(.unsupported, "\(method) \(path) is not supported by this registry")
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
        let method = request.method
        let isRead = method == .get || method == .head
        let unsupported = RegistryAction.unsupported(method: method.rawValue, path: rawPath)
        if segments.isEmpty { return isRead ? .ping : unsupported }
        if segments == ["_catalog"] { return isRead ? .catalog : unsupported }
        let count = segments.count
        var operation: (name: ArraySlice<String>, action: (String) -> RegistryAction)?
        if count >= 4, segments[count - 3] == "_pier", segments[count - 2] == "delta" {
            guard isRead else { return unsupported }
            let digest = segments[count - 1]
            operation = (segments[..<(count - 3)], { .pullDelta(repository: $0, digest: digest) })
        } else if count >= 3, segments[count - 2] == "referrers" {
            guard isRead else { return unsupported }
            let digest = segments[count - 1]
            operation = (segments[..<(count - 2)], { .listReferrers(repository: $0, digest: digest) })
        } else if count >= 3, segments[count - 2] == "tags", segments[count - 1] == "list" {
            guard isRead else { return unsupported }
            operation = (segments[..<(count - 2)], { .listTags(repository: $0) })
        } else if count >= 3, segments[count - 2] == "blobs", segments[count - 1] == "uploads" {
            guard method == .post else { return unsupported }
            operation = (segments[..<(count - 2)], { .startUpload(repository: $0) })
        } else if count >= 4, segments[count - 3] == "blobs", segments[count - 2] == "uploads" {
            guard [.get, .patch, .put, .delete].contains(method) else { return unsupported }
            let id = segments[count - 1]
            operation = (segments[..<(count - 3)], { .upload(repository: $0, id: id) })
        } else if count >= 3, segments[count - 2] == "manifests" {
            let reference = segments[count - 1]
            switch method {
            case .get, .head: operation = (segments[..<(count - 2)], { .pullManifest(repository: $0, reference: reference) })
            case .put: operation = (segments[..<(count - 2)], { .pushManifest(repository: $0, reference: reference) })
            case .delete: operation = (segments[..<(count - 2)], { .deleteManifest(repository: $0, reference: reference) })
            default: return unsupported
            }
        } else if count >= 3, segments[count - 2] == "blobs" {
            let digest = segments[count - 1]
            switch method {
            case .get, .head: operation = (segments[..<(count - 2)], { .pullBlob(repository: $0, digest: digest) })
            case .delete: operation = (segments[..<(count - 2)], { .deleteBlob(repository: $0, digest: digest) })
            default: return unsupported
            }
        }
        guard let operation else {
            throw RegistryHTTPError(.unsupported, "\(rawPath) is not a distribution-spec endpoint",
                                    detail: "expected /v2/<name>/manifests/<reference>, /v2/<name>/blobs/<digest>, /v2/<name>/blobs/uploads/ or /v2/<name>/tags/list")
        }
        let name = operation.name.joined(separator: "/")
        guard RepositoryName.isValid(name) else {
            throw RegistryHTTPError(.nameInvalid, "\"\(name)\" is not a valid repository name",
                                    detail: "path components of lowercase letters and digits, separated by . _ __ or -, joined by /")
        }
        return operation.action(name)
    }

    /// The repository for a read: on a registry that takes pushes, a repository with no tag yet
    /// still serves what was just pushed to it (clients check blobs before the manifest).
    private func readableRepository(_ name: String) async throws(RegistryHTTPError) -> Repository {
        do { return try await repository(name) } catch {
            guard uploads != nil, error.code == .nameUnknown else { throw error }
            return Repository(name: name, tags: [], records: [], lookup: { _ in nil })
        }
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

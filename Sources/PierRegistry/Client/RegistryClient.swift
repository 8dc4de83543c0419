import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import PierOCI

/// Pulls images from an OCI distribution-spec v1.1 registry (Pier's manager, or any registry
/// that allows anonymous pulls) into a local content store and tags them in an image store.
///
/// Every manifest is checked against the digest it was asked by (or announced with), every
/// blob is hashed while it streams to disk and only linked into the store when it matches its
/// descriptor. A download cut off mid-blob resumes with `Range` from the bytes already written.
/// Call `shutdown()` when done.
public final class RegistryClient: Sendable {
    /// Settings of a client.
    public struct Configuration: Sendable {
        /// TLS for `https` registries, e.g. the cluster's mutual-TLS client configuration.
        public var tlsConfiguration: TLSConfiguration?
        /// Host names dialled at another address: a cluster client names the manager by its role's
        /// server name (`https://pier-manager:7443`), which its certificate must carry, and dials
        /// the manager's real address.
        public var dnsOverride: [String: String] = [:]
        /// The platform chosen from image indexes.
        public var platform: Platform
        /// Blobs downloaded at the same time.
        public var maxConcurrentDownloads: Int
        /// Attempts per request when the connection fails (blobs resume where they broke off).
        public var maxAttempts: Int
        public var connectTimeout: Duration
        /// How long a response may stall before the attempt is abandoned.
        public var readTimeout: Duration
        /// Extra request headers, e.g. `Authorization`.
        public var headers: [String: String]
        /// Sent to the token endpoint of a `Bearer` challenge (or as `Basic`); nil: anonymous.
        public var credentials: RegistryCredentials?
        /// Bytes per `PATCH` of a push: what a broken connection costs at most.
        public var uploadChunkBytes: Int = 4 << 20
        /// A pull whose missing blobs declare more than this share of the free space on the
        /// content store's file system is refused before any layer downloads; 0 checks nothing.
        public var freeSpaceFraction: Double = 0.9
        /// The `zstd` program that applies delta patches; nil downloads every blob whole.
        public var zstdPath: String? = RegistryDeltas.defaultZstd
        /// Called as blob bytes arrive (often: throttle in the callback) and once when a blob is stored.
        public var progress: (@Sendable (BlobProgress) -> Void)?
        /// Called for each layer of a pulled image once its blob is in the store, with the layer's
        /// diff id from the (verified) config: a node unpacks each layer while the others are still
        /// downloading. The pull returns only when every call has returned.
        public var layerStored: (@Sendable (_ layer: Descriptor, _ diffID: Digest) async -> Void)?

        public init(
            tlsConfiguration: TLSConfiguration? = nil, platform: Platform = .host, maxConcurrentDownloads: Int = 3,
            maxAttempts: Int = 4, connectTimeout: Duration = .seconds(10), readTimeout: Duration = .seconds(60),
            headers: [String: String] = [:]
        ) {
            self.tlsConfiguration = tlsConfiguration; self.platform = platform
            self.maxConcurrentDownloads = maxConcurrentDownloads; self.maxAttempts = maxAttempts
            self.connectTimeout = connectTimeout; self.readTimeout = readTimeout; self.headers = headers
        }
    }

    /// The registry, e.g. `https://manager.local:5443`.
    public let baseURL: String
    public let configuration: Configuration
    public let content: LocalContentStore
    public let images: ImageStore
    let http: HTTPClient
    let authenticator: RegistryAuthenticator

    /// Media types the client reads, sent as `Accept` for manifests.
    static let acceptedManifestTypes = [
        MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest,
    ]

    public init(baseURL: URL, content: LocalContentStore, images: ImageStore,
                configuration: Configuration = Configuration()) throws {
        guard let scheme = baseURL.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = baseURL.host, !host.isEmpty else {
            throw RegistryClientError.invalidBaseURL(baseURL.absoluteString)
        }
        var base = baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.configuration = configuration
        self.content = content
        self.images = images
        var httpConfiguration = HTTPClient.Configuration(
            tlsConfiguration: configuration.tlsConfiguration,
            redirectConfiguration: .follow(max: 5, allowCycles: false),
            timeout: .init(connect: Self.timeAmount(configuration.connectTimeout),
                           read: Self.timeAmount(configuration.readTimeout)))
        httpConfiguration.decompression = .disabled
        httpConfiguration.dnsOverride = configuration.dnsOverride
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        self.authenticator = RegistryAuthenticator(credentials: configuration.credentials)
    }

    /// Closes the client's connections; call it once, after the last pull.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// Pulls `repository[:tag]` (`latest` when neither a tag nor a digest is given),
    /// `repository@sha256:…` or `repository:tag@sha256:…` (the digest is pulled; the tag only
    /// names the local copy). See `pull(repository:reference:tagAs:)`.
    public func pull(_ image: String, tagAs local: ImageReference? = nil) async throws -> PullResult {
        var remainder = Substring(image)
        var digest: String?
        if let at = remainder.firstIndex(of: "@") {
            digest = String(remainder[remainder.index(after: at)...])
            remainder = remainder[..<at]
        }
        var tag: String?
        if let colon = remainder.lastIndex(of: ":"), !remainder[colon...].contains("/") {
            tag = String(remainder[remainder.index(after: colon)...])
            remainder = remainder[..<colon]
        }
        let repository = String(remainder)
        let reference = digest ?? tag ?? ImageReference.defaultTag
        var local = local
        if local == nil, digest != nil, let tag {
            local = try Self.localReference(repository: repository, tag: tag, image: image)
        }
        return try await pull(repository: repository, reference: reference, tagAs: local)
    }

    /// Pulls the image `reference` (a tag or a digest) of `repository` for the configured
    /// platform, stores what the store lacks and tags it locally as `local`, or as
    /// `<repository>:<tag>` when `local` is nil and `reference` is a tag. A pull by digest
    /// without `local` tags nothing: the caller pins the returned digest.
    ///
    /// Blobs are stored as they verify; when the pull fails, the verified ones stay (a retry
    /// does not fetch them again) but nothing is tagged, so garbage collection removes them.
    public func pull(repository: String, reference: String, tagAs local: ImageReference? = nil) async throws -> PullResult {
        let image = "\(repository)\(reference.contains(":") ? "@" : ":")\(reference)"
        guard RepositoryName.isValid(repository) else {
            throw RegistryClientError.invalidImage(image, reason: "\"\(repository)\" is not a valid repository name")
        }
        var target = local
        if reference.contains(":") {
            do { _ = try Digest(parsing: reference) } catch {
                throw RegistryClientError.invalidImage(image, reason: error.description)
            }
        } else {
            guard RepositoryName.isValidTag(reference) else {
                throw RegistryClientError.invalidImage(image, reason: "\"\(reference)\" is not a valid tag")
            }
            if target == nil { target = try Self.localReference(repository: repository, tag: reference, image: image) }
        }

        let top = try await fetchManifest(repository: repository, reference: reference)
        var manifestDocument = top
        var index: Digest?
        var indexDocuments: [FetchedManifest] = []
        var depth = 0
        while MediaType.isIndex(manifestDocument.mediaType) {
            depth += 1
            guard depth <= 4 else {
                throw RegistryClientError.invalidManifest(url: manifestDocument.url, "image indexes nest more than 4 deep")
            }
            let parsed: ImageIndex
            do { parsed = try ImageIndex.decode(manifestDocument.data, digest: manifestDocument.digest) } catch {
                throw RegistryClientError.invalidManifest(url: manifestDocument.url, error.description)
            }
            guard let chosen = Platform.bestMatch(in: parsed.manifests, for: configuration.platform) else {
                throw RegistryClientError.noMatchingPlatform(
                    index: manifestDocument.digest, platform: configuration.platform,
                    available: parsed.manifests.compactMap { $0.platform?.description })
            }
            if index == nil { index = manifestDocument.digest }
            let child = try await fetchManifest(repository: repository, reference: chosen.digest.description)
            guard Int64(child.data.count) == chosen.size else {
                throw RegistryClientError.blobDoesNotVerify(
                    chosen.digest, "the index declares \(chosen.size) bytes, the registry sent \(child.data.count)")
            }
            indexDocuments.append(manifestDocument)
            manifestDocument = child
        }
        let manifest: ImageManifest
        do { manifest = try ImageManifest.decode(manifestDocument.data, digest: manifestDocument.digest) } catch {
            throw RegistryClientError.invalidManifest(url: manifestDocument.url, error.description)
        }

        var blobs: [Descriptor] = [manifest.config]
        for layer in manifest.layers where !blobs.contains(where: { $0.digest == layer.digest }) { blobs.append(layer) }
        var missing: [Descriptor] = []
        for blob in blobs {
            let storedSize = await content.has(blob.digest) ? try? await content.size(of: blob.digest) : nil
            if storedSize != blob.size { missing.append(blob) }
        }
        try checkSpace(for: missing, image: image)
        let bases = await deltaBases(for: manifest.layers.filter { layer in missing.contains { $0.digest == layer.digest } },
                                     in: manifest, repository: repository, local: target)
        // The config first: it is checked against the manifest before any layer moves, and it
        // names each layer's diff id for `layerStored`.
        var fetched: Int64 = 0
        if missing.first?.digest == manifest.config.digest {
            fetched = try await downloadAll([manifest.config], repository: repository).bytes
        }
        let config = try await checkConfig(manifest, url: manifestDocument.url)
        let diffIDs = Dictionary(zip(manifest.layers.map(\.digest), config.rootfs.diffIDs)) { first, _ in first }
        let handedOn = LayerCallbacks()
        let handOn: @Sendable (Descriptor) -> Void = { [layerStored = configuration.layerStored] layer in
            guard let layerStored, let diffID = diffIDs[layer.digest] else { return }
            handedOn.add(Task { await layerStored(layer, diffID) })
        }
        let missingDigests = Set(missing.map(\.digest))
        for layer in manifest.layers where !missingDigests.contains(layer.digest) { handOn(layer) }
        let deltas: [Digest]
        do {
            let layers = missing.filter { $0.digest != manifest.config.digest }
            let result = try await downloadAll(layers, repository: repository, bases: bases, stored: handOn)
            (fetched, deltas) = (fetched + result.bytes, result.deltas)
        } catch {
            await handedOn.wait()
            throw error
        }
        await handedOn.wait()

        // The chosen manifest before the index naming it, and both only once every blob is in.
        try await storeDocument(manifestDocument)
        for document in indexDocuments.reversed() { try await storeDocument(document) }
        if let target {
            try await images.tag(target, manifest: manifestDocument.digest, index: index)
        }
        return PullResult(
            manifest: manifestDocument.digest, index: index, resolved: top.digest, config: manifest.config.digest,
            layers: manifest.layers, reference: target, fetchedBlobs: missing.map(\.digest), fetchedBytes: fetched,
            deltaBlobs: deltas)
    }

    /// Refuses blobs that cannot fit: each size must be positive-or-zero and their sum within
    /// `freeSpaceFraction` of the free space (a manifest declaring a terabyte layer fails here,
    /// not once the disk is full).
    func checkSpace(for blobs: [Descriptor], image: String) throws {
        var total: Int64 = 0
        for blob in blobs {
            guard blob.size >= 0 else { throw RegistryClientError.invalidManifest(url: image, "blob \(blob.digest) declares \(blob.size) bytes") }
            let (sum, overflow) = total.addingReportingOverflow(blob.size)
            total = overflow ? .max : sum
        }
        guard configuration.freeSpaceFraction > 0, let free = FreeSpace.bytes(at: content.root) else { return }
        let limit = Int64(clamping: UInt64(Double(free) * min(configuration.freeSpaceFraction, 1)))
        if total > limit { throw RegistryClientError.tooLarge(image: image, bytes: total, limit: limit) }
    }

    /// Fetches the signature artifact of the manifest `digest` that the registry keeps under
    /// `repository:sha256-<hex>.sig` (see `SignatureArtifact`), verifies its bytes and stores it
    /// under the same tag of `local`'s repository. Returns false when the registry has none.
    @discardableResult
    public func pullSignature(repository: String, of digest: Digest, tagAs local: ImageReference) async throws -> Bool {
        let tag = SignatureArtifact.tag(for: digest)
        let fetched: FetchedManifest
        do { fetched = try await fetchManifest(repository: repository, reference: tag) } catch RegistryClientError.registry(let status, _, _) where status == 404 {
            return false
        }
        let manifest: ImageManifest
        do { manifest = try SpecJSON.decode(fetched.data, what: "signature artifact", digest: fetched.digest) } catch {
            throw RegistryClientError.invalidManifest(url: fetched.url, "\(error)")
        }
        guard SignatureArtifact.accepts(manifest, of: digest) else {
            throw RegistryClientError.invalidManifest(url: fetched.url, "not a Pier signature of \(digest)")
        }
        var missing: [Descriptor] = []
        for blob in [manifest.config] + manifest.layers where !(await content.has(blob.digest)) { missing.append(blob) }
        _ = try await downloadAll(missing, repository: repository)
        try await storeDocument(fetched)
        let target: ImageReference
        do { target = try local.withTag(tag) } catch {
            throw RegistryClientError.invalidImage(local.display, reason: "\(error)")
        }
        try await images.tag(target, manifest: fetched.digest)
        return true
    }

    /// For each layer to fetch, a layer the store already holds that is likely an older version
    /// of it: the layer at the same position of another image of the same repository (an update
    /// from tag 1 to tag 2), preferring images with as many layers.
    func deltaBases(for layers: [Descriptor], in manifest: ImageManifest, repository: String, local: ImageReference?) async -> [Digest: Digest] {
        guard configuration.zstdPath != nil, !layers.isEmpty else { return [:] }
        let path = local?.path ?? repository
        var candidates: [ImageManifest] = []
        for record in await images.list() where record.reference.path == path || record.reference.path == repository {
            guard let data = try? await content.readDocument(record.manifest),
                  let old = try? ImageManifest.decode(data, digest: record.manifest), old.layers != manifest.layers else { continue }
            candidates.append(old)
        }
        candidates.sort { abs($0.layers.count - manifest.layers.count) < abs($1.layers.count - manifest.layers.count) }
        var bases: [Digest: Digest] = [:]
        for layer in layers {
            guard let position = manifest.layers.firstIndex(where: { $0.digest == layer.digest }) else { continue }
            for old in candidates where position < old.layers.count {
                let base = old.layers[position].digest
                if base != layer.digest, await content.has(base) {
                    bases[layer.digest] = base
                    break
                }
            }
        }
        return bases
    }

    /// The digest `reference` (a tag or a digest) resolves to on the registry, from the manifest
    /// it serves (fetched and verified): what a deploy pins.
    public func resolve(repository: String, reference: String) async throws -> Digest {
        try await fetchManifest(repository: repository, reference: reference).digest
    }

    // MARK: Documents

    /// A manifest or index as fetched and verified.
    struct FetchedManifest: Sendable {
        var data: Data
        var digest: Digest
        var mediaType: String
        var url: String
    }

    /// Fetches a manifest or index, checking its bytes against the digest it was asked by, or
    /// against `Docker-Content-Digest` when asked by tag.
    func fetchManifest(repository: String, reference: String) async throws -> FetchedManifest {
        let url = "\(baseURL)/v2/\(repository)/manifests/\(reference)"
        let (response, body) = try await withRetries(url: url) { () async throws -> (HTTPClientResponse, ByteBuffer) in
            var request = self.request(url)
            request.headers.add(name: "Accept", value: Self.acceptedManifestTypes.joined(separator: ", "))
            let response = try await self.execute(request, deadline: .now() + Self.timeAmount(self.configuration.readTimeout))
            let limit = Int(ContentStoreLimits.maxDocumentBytes)
            let body = try await response.body.collect(upTo: limit)
            return (response, body)
        }
        guard response.status == .ok else { throw Self.error(for: response, body: body, url: url) }
        let data = Data(body.readableBytesView)
        let actual = Digest.sha256(of: data)
        if let expected = try? Digest(parsing: reference), expected != actual {
            throw RegistryClientError.manifestDoesNotVerify(url: url, expected: expected, actual: actual)
        }
        if let announced = response.headers.first(name: "Docker-Content-Digest") {
            guard let expected = try? Digest(parsing: announced) else {
                throw RegistryClientError.unexpectedResponse(url: url, "Docker-Content-Digest \"\(announced)\" is not a sha256 digest")
            }
            guard expected == actual else {
                throw RegistryClientError.manifestDoesNotVerify(url: url, expected: expected, actual: actual)
            }
        }
        guard let mediaType = ManifestMediaType.detect(data) else {
            let type = response.headers.first(name: "Content-Type") ?? "none"
            throw RegistryClientError.invalidManifest(url: url, "it is neither an image manifest nor an index (Content-Type \(type))")
        }
        return FetchedManifest(data: data, digest: actual, mediaType: mediaType, url: url)
    }

    private func storeDocument(_ document: FetchedManifest) async throws {
        do {
            try await content.ingest(data: document.data, expecting: document.digest, size: Int64(document.data.count))
        } catch let error as ContentStoreError {
            throw RegistryClientError.blobDoesNotVerify(document.digest, error.description)
        }
    }

    /// Checks the downloaded config against the manifest: one diff id per layer.
    private func checkConfig(_ manifest: ImageManifest, url: String) async throws -> ImageConfig {
        let data = try await content.readDocument(manifest.config.digest)
        let config: ImageConfig
        do { config = try ImageConfig.decode(data, digest: manifest.config.digest) } catch {
            throw RegistryClientError.invalidManifest(url: url, "its config: \(error.description)")
        }
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw RegistryClientError.invalidManifest(
                url: url,
                "config \(manifest.config.digest) lists \(config.rootfs.diffIDs.count) diff ids for \(manifest.layers.count) layers")
        }
        return config
    }

    // MARK: HTTP

    func request(_ url: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        for (name, value) in configuration.headers { request.headers.replaceOrAdd(name: name, value: value) }
        return request
    }

    /// Runs `body`, repeating it when the connection fails, up to `maxAttempts` times.
    func withRetries<T>(url: String, _ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do { return try await body() } catch {
                if error is RegistryClientError || error is ContentStoreError || error is CancellationError { throw error }
                if Task.isCancelled { throw CancellationError() }
                guard attempt < max(1, configuration.maxAttempts) else {
                    throw RegistryClientError.transfer(url: url, attempts: attempt, "\(error)")
                }
                try await Task.sleep(for: .milliseconds(100 << min(attempt, 5)))
            }
        }
    }

    /// The error for a non-success response: the registry's JSON error when it sent one.
    static func error(for response: HTTPClientResponse, body: ByteBuffer, url: String) -> RegistryClientError {
        let decoded = try? JSONDecoder().decode(RegistryErrorBody.self, from: Data(body.readableBytesView))
        return .registry(status: Int(response.status.code), url: url, decoded)
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    static func localReference(repository: String, tag: String, image: String) throws -> ImageReference {
        do { return try ImageReference(name: repository, tag: tag) } catch {
            throw RegistryClientError.invalidImage(image, reason: error.description)
        }
    }
}

/// The `layerStored` calls a pull started, awaited before it returns.
final class LayerCallbacks: @unchecked Sendable {
    private let lock = NSLock()
    private var tasks: [Task<Void, Never>] = []

    func add(_ task: Task<Void, Never>) {
        lock.lock(); defer { lock.unlock() }
        tasks.append(task)
    }

    func wait() async {
        let all = lock.withLock { tasks }
        for task in all { await task.value }
    }
}

/// What a registry request asks for, handed to the authorization hook before any store access.
public enum RegistryAction: Sendable, Hashable {
    /// `GET /v2/`.
    case ping
    /// `GET /v2/_catalog`.
    case catalog
    /// `GET /v2/<name>/tags/list`.
    case listTags(repository: String)
    /// `GET|HEAD /v2/<name>/manifests/<reference>`.
    case pullManifest(repository: String, reference: String)
    /// `GET|HEAD /v2/<name>/blobs/<digest>`.
    case pullBlob(repository: String, digest: String)
    /// `GET /v2/<name>/referrers/<digest>[?artifactType=]`: the manifests whose subject is `digest`.
    case listReferrers(repository: String, digest: String)
    /// `GET /v2/<name>/_pier/delta/<digest>?from=<digest>`: a binary patch that turns blob `from`
    /// into blob `digest` (Pier's extension for delta updates; plain OCI clients never ask).
    case pullDelta(repository: String, digest: String)
    /// `POST /v2/<name>/blobs/uploads/` (with `?digest=` a monolithic upload, with `?mount=` a mount).
    case startUpload(repository: String)
    /// `GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<id>`: status, a chunk, the end, a cancel.
    case upload(repository: String, id: String)
    /// `PUT /v2/<name>/manifests/<reference>`.
    case pushManifest(repository: String, reference: String)
    /// `DELETE /v2/<name>/manifests/<reference>`: a tag, or every tag of a digest.
    case deleteManifest(repository: String, reference: String)
    /// `DELETE /v2/<name>/blobs/<digest>`.
    case deleteBlob(repository: String, digest: String)
    /// Anything the registry does not implement; refused with 405.
    case unsupported(method: String, path: String)

    /// The repository the action reads or writes, when it names one.
    public var repository: String? {
        switch self {
        case .listTags(let r), .pullManifest(let r, _), .pullBlob(let r, _), .pullDelta(let r, _), .listReferrers(let r, _), .startUpload(let r), .upload(let r, _),
             .pushManifest(let r, _), .deleteManifest(let r, _), .deleteBlob(let r, _): r
        case .ping, .catalog, .unsupported: nil
        }
    }

    /// Whether the action changes the registry (push, upload, delete).
    public var writes: Bool {
        switch self {
        case .startUpload, .upload, .pushManifest, .deleteManifest, .deleteBlob: true
        case .ping, .catalog, .listTags, .pullManifest, .pullBlob, .pullDelta, .listReferrers, .unsupported: false
        }
    }

    /// The kinds of action, as the access policy names them (`AccessPolicy.registry`).
    public enum Kind: String, Sendable, CaseIterable {
        case ping, catalog, listTags, pullManifest, pullBlob, listReferrers, pullDelta
        case startUpload, upload, pushManifest, deleteManifest, deleteBlob, unsupported
    }

    public var kind: Kind {
        switch self {
        case .ping: .ping
        case .catalog: .catalog
        case .listTags: .listTags
        case .pullManifest: .pullManifest
        case .pullBlob: .pullBlob
        case .listReferrers: .listReferrers
        case .pullDelta: .pullDelta
        case .startUpload: .startUpload
        case .upload: .upload
        case .pushManifest: .pushManifest
        case .deleteManifest: .deleteManifest
        case .deleteBlob: .deleteBlob
        case .unsupported: .unsupported
        }
    }
}

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
    /// Anything the registry does not implement (push, delete, uploads); refused with 405.
    case unsupported(method: String, path: String)

    /// The repository the action reads, when it reads one.
    public var repository: String? {
        switch self {
        case .listTags(let r), .pullManifest(let r, _), .pullBlob(let r, _): r
        case .ping, .catalog, .unsupported: nil
        }
    }
}

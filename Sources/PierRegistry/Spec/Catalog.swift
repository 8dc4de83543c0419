/// The response of `GET /v2/_catalog` (the Docker registry API extension the distribution-spec
/// v1.1 leaves out but skopeo and docker use).
public struct Catalog: Codable, Sendable, Hashable {
    public var repositories: [String]

    public init(repositories: [String]) { self.repositories = repositories }
}

/// The response of `GET /v2/<name>/tags/list` (OCI distribution-spec v1.1, "Listing Tags").
public struct TagList: Codable, Sendable, Hashable {
    public var name: String
    public var tags: [String]

    public init(name: String, tags: [String]) { self.name = name; self.tags = tags }
}

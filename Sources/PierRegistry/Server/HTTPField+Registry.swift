import HTTPTypes

extension HTTPField.Name {
    /// The digest of the manifest or blob in the body (Docker registry API, kept by the
    /// distribution-spec).
    static let dockerContentDigest = registryName("Docker-Content-Digest")
    /// `registry/2.0`, sent on every response so clients know they reached a registry.
    static let dockerDistributionAPIVersion = registryName("Docker-Distribution-API-Version")
    /// Sent with the referrers list when it was filtered (distribution-spec v1.1).
    static let ociFiltersApplied = registryName("OCI-Filters-Applied")
    /// Sent when a pushed manifest has a subject: this registry keeps the referrers list.
    static let ociSubject = registryName("OCI-Subject")
    /// The blob a delta patch applies to.
    static let pierDeltaBase = registryName("Pier-Delta-Base")
    /// The id of a blob upload session.
    static let dockerUploadUUID = registryName("Docker-Upload-UUID")
    /// RFC 8288 `Link`, for the next page of a listing.
    static let link = registryName("Link")

    private static func registryName(_ name: String) -> HTTPField.Name {
        // Every name above is a valid token; the fallback is never taken.
        HTTPField.Name(name) ?? .accept
    }
}

/// The `oci-layout` file at the root of an image layout (OCI image-spec v1.1, `image-layout.md`).
public struct OCILayoutHeader: Codable, Sendable, Hashable {
    public var imageLayoutVersion: String
    public init(imageLayoutVersion: String = "1.0.0") { self.imageLayoutVersion = imageLayoutVersion }
}

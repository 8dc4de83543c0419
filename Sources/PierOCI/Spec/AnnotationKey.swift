/// Annotation keys of OCI image-spec v1.1 (`annotations.md`) and the one containerd adds.
public enum AnnotationKey {
    /// In an image layout's `index.json`: the name of the reference (a tag or a full reference).
    public static let refName = "org.opencontainers.image.ref.name"
    public static let created = "org.opencontainers.image.created"
    public static let baseName = "org.opencontainers.image.base.name"
    public static let baseDigest = "org.opencontainers.image.base.digest"
    /// containerd's and `docker save`'s full image name in an image layout's `index.json`.
    public static let containerdImageName = "io.containerd.image.name"
}

/// Media types of OCI image-spec v1.1 and Docker image manifest v2 schema 2, and what each one is.
public enum MediaType {
    // OCI image-spec v1.1
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociLayout = "application/vnd.oci.layout.header.v1+json"
    public static let ociLayerTar = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerTarZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let ociLayerNondistributableTar = "application/vnd.oci.image.layer.nondistributable.v1.tar"
    public static let ociLayerNondistributableTarGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    public static let ociLayerNondistributableTarZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
    public static let ociEmpty = "application/vnd.oci.empty.v1+json"

    // Docker image manifest v2, schema 2
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerTarGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar"
    public static let dockerForeignLayerTarGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// How a layer's tar stream is compressed.
    public enum Compression: String, Sendable, Codable {
        case uncompressed, gzip, zstd
    }

    /// Whether `type` is an image manifest (OCI or Docker v2 s2).
    public static func isManifest(_ type: String?) -> Bool {
        type == ociManifest || type == dockerManifest
    }

    /// Whether `type` is an image index (OCI index or Docker manifest list).
    public static func isIndex(_ type: String?) -> Bool {
        type == ociIndex || type == dockerManifestList
    }

    /// Whether `type` is an image configuration (OCI or Docker).
    public static func isConfig(_ type: String?) -> Bool {
        type == ociConfig || type == dockerConfig
    }

    /// The compression of a layer media type, or nil when `type` is not a known layer type.
    public static func layerCompression(_ type: String?) -> Compression? {
        switch type {
        case ociLayerTar, ociLayerNondistributableTar, dockerLayerTar: .uncompressed
        case ociLayerTarGzip, ociLayerNondistributableTarGzip, dockerLayerTarGzip, dockerForeignLayerTarGzip: .gzip
        case ociLayerTarZstd, ociLayerNondistributableTarZstd: .zstd
        default: nil
        }
    }

    /// Whether `type` is a known layer media type.
    public static func isLayer(_ type: String?) -> Bool { layerCompression(type) != nil }

    /// The OCI layer media type carrying the same bytes as `type` (Docker types mapped to OCI ones).
    public static func ociLayerType(for type: String) -> String {
        switch type {
        case dockerLayerTar: ociLayerTar
        case dockerLayerTarGzip: ociLayerTarGzip
        case dockerForeignLayerTarGzip: ociLayerNondistributableTarGzip
        default: type
        }
    }

    /// The OCI layer media type for a compression.
    public static func ociLayerType(for compression: Compression) -> String {
        switch compression {
        case .uncompressed: ociLayerTar
        case .gzip: ociLayerTarGzip
        case .zstd: ociLayerTarZstd
        }
    }
}

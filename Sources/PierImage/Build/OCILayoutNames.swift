import PierOCI

/// How image names are written into and read from an image layout's `index.json`.
public enum OCILayoutNames {
    /// `org.opencontainers.image.ref.name` with the short name (`app:1.0`) as skopeo and
    /// buildah read it, and containerd's `io.containerd.image.name` with the full one.
    public static func annotations(for reference: ImageReference) -> [String: String] {
        [AnnotationKey.refName: reference.display, AnnotationKey.containerdImageName: reference.canonical]
    }

    /// The reference an `index.json` entry names, if any. containerd's full name wins; a bare
    /// `ref.name` that is only a tag (`latest`, `1.0`) names nothing without `defaultName`.
    public static func reference(from annotations: [String: String]?, defaultName: String? = nil) -> ImageReference? {
        guard let annotations else { return nil }
        if let full = annotations[AnnotationKey.containerdImageName], let r = try? ImageReference(parsing: full) {
            return r
        }
        guard let name = annotations[AnnotationKey.refName], !name.isEmpty else { return nil }
        if name.contains("/") || name.contains(":") || name.contains("@") {
            return try? ImageReference(parsing: name)
        }
        if let defaultName, let r = try? ImageReference(parsing: "\(defaultName):\(name)") { return r }
        return try? ImageReference(parsing: name)
    }
}

/// Short forms of ids and text for tables.
public enum Identifiers {
    /// The first 12 hex digits of a container id or an image digest (`sha256:` dropped).
    public static func short(_ id: String) -> String {
        let hex = id.hasPrefix("sha256:") ? String(id.dropFirst("sha256:".count)) : id
        return String(hex.prefix(12))
    }

    /// `text` cut to `max` characters, the last one an ellipsis when cut (Docker's `Ellipsis`).
    public static func truncate(_ text: String, to max: Int) -> String {
        guard text.count > max else { return text }
        guard max > 1 else { return String(text.prefix(max)) }
        return String(text.prefix(max - 1)) + "…"
    }

    /// Splits `repo:tag` at the tag's colon (not a registry port's): `localhost:5000/app:1` → (`localhost:5000/app`, `1`).
    /// A digest reference has no tag: `app@sha256:…` → (`app`, `<none>`).
    public static func repositoryAndTag(_ reference: String) -> (repository: String, tag: String) {
        if let at = reference.firstIndex(of: "@") { return (String(reference[..<at]), "<none>") }
        let lastSlash = reference.lastIndex(of: "/")
        if let colon = reference.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            return (String(reference[..<colon]), String(reference[reference.index(after: colon)...]))
        }
        return (reference, "latest")
    }
}

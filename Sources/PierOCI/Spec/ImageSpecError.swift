/// Why an image-spec document was refused.
public enum ImageSpecError: Error, Sendable, CustomStringConvertible {
    case invalidJSON(what: String, digest: Digest?, reason: String)
    case unsupportedSchemaVersion(Int, what: String, digest: Digest?)
    case unexpectedMediaType(String, what: String, digest: Digest?)
    case unknownMediaType(String, blob: Digest, role: String)

    public var description: String {
        func named(_ d: Digest?) -> String { d.map { " \($0)" } ?? "" }
        switch self {
        case .invalidJSON(let what, let digest, let reason):
            return "\(what)\(named(digest)) is not valid: \(reason)"
        case .unsupportedSchemaVersion(let v, let what, let digest):
            return "\(what)\(named(digest)) has schemaVersion \(v); only 2 is supported"
        case .unexpectedMediaType(let type, let what, let digest):
            return "\(what)\(named(digest)) declares media type \"\(type)\", which is not an \(what)"
        case .unknownMediaType(let type, let blob, let role):
            return "\(role) \(blob) has unknown media type \"\(type)\"; Pier accepts OCI image-spec v1.1 and Docker v2 schema 2 types"
        }
    }
}

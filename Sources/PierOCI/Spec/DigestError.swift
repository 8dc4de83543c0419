/// Why a string is not an acceptable digest.
public enum DigestError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingAlgorithm(String)
    case unsupportedAlgorithm(String, in: String)
    case invalidEncoding(String)

    public var description: String {
        switch self {
        case .missingAlgorithm(let s):
            "digest \"\(s)\" has no algorithm; expected sha256:<64 lowercase hex characters>"
        case .unsupportedAlgorithm(let alg, let s):
            "digest \"\(s)\" uses algorithm \"\(alg)\"; only sha256 is supported"
        case .invalidEncoding(let s):
            "digest \"\(s)\" is not sha256 followed by 64 lowercase hex characters"
        }
    }
}

/// Errors of the image service. The agent answers `notFound` with 404, `conflict` with 409 and
/// `invalid` with 400.
public enum ImageServiceError: Error, Sendable, CustomStringConvertible {
    case notFound(String)
    case conflict(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .notFound(let m), .conflict(let m), .invalid(let m): m
        }
    }
}

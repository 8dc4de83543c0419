/// Errors the agent answers with; each maps to an HTTP status.
public enum AgentError: Error, CustomStringConvertible, Sendable {
    /// Bad input: the message names the field and the value.
    case invalid(String)
    case noSuchContainer(String)
    case noSuchImage(String)
    /// Not found, with the image store's own words.
    case noSuchImageMessage(String)
    case conflict(String)
    /// The client is not allowed (no or a refused certificate).
    case forbidden(String)
    /// A request body over its limit (413): the message names the limit.
    case tooLarge(String)
    case failed(String)
    /// The agent's state cannot be used (degraded): the message names the problem and the remedy.
    case unavailable(String)

    public var description: String {
        switch self {
        case .invalid(let m), .conflict(let m), .forbidden(let m), .tooLarge(let m), .failed(let m), .noSuchImageMessage(let m), .unavailable(let m): m
        case .noSuchContainer(let ref): "no such container: \(ref)"
        case .noSuchImage(let ref): "no such image: \(ref) (pier image ls lists the images here; import or build it first)"
        }
    }

    var status: Int {
        switch self {
        case .invalid: 400
        case .noSuchContainer, .noSuchImage, .noSuchImageMessage: 404
        case .conflict: 409
        case .forbidden: 403
        case .tooLarge: 413
        case .failed: 500
        case .unavailable: 503
        }
    }
}

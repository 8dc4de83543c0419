/// What went wrong on the client's side of a request, or what the agent answered with.
/// The description is what `pier` prints after `Error: `.
public enum ClientError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Nothing answers at the endpoint (no socket file, connection refused, timed out).
    case agentUnreachable(endpoint: String)
    /// The agent answered with a 4xx or 5xx status and this message.
    case api(status: Int, message: String)
    /// `--host` or `PIER_HOST` could not be parsed.
    case invalidHost(String, reason: String)
    /// The endpoint needs transport security the client does not have yet.
    case tlsNotSupported(endpoint: String)
    /// The agent's answer could not be understood.
    case badResponse(request: String, reason: String)
    /// The transport failed in the middle of a request.
    case transport(request: String, reason: String)
    /// An attached stream ended before the container's exit status arrived.
    case streamEndedEarly(request: String)
    /// The agent reported an error inside an attached stream.
    case streamError(String)
    /// A local file could not be read or written.
    case file(path: String, reason: String)
    /// A command-line value is malformed; the message names the flag and the value.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .agentUnreachable(let endpoint):
            "cannot reach the pier agent at \(endpoint): is `pier agent` running? (set --host or PIER_HOST)"
        case .api(_, let message):
            message
        case .invalidHost(let text, let reason):
            "invalid agent address \"\(text)\": \(reason)"
        case .tlsNotSupported(let endpoint):
            "\(endpoint) needs mutual TLS: give --tls-dir DIR (or PIER_TLS_DIR) with node.pem, node-key.pem and ca.pem, e.g. from `pier cert create` on the manager"
        case .badResponse(let request, let reason):
            "could not read the agent's answer to \(request): \(reason)"
        case .transport(let request, let reason):
            "\(request) failed: \(reason)"
        case .streamEndedEarly(let request):
            "the agent closed the stream of \(request) before the exit status arrived; `pier ps -a` shows what happened"
        case .streamError(let message):
            message
        case .file(let path, let reason):
            "\(path): \(reason)"
        case .invalidArgument(let message):
            message
        }
    }

    /// True when the agent answered 404 (no such container or image).
    public var isNotFound: Bool {
        if case .api(404, _) = self { return true }
        return false
    }
}

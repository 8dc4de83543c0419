/// Why a container's network could not be set up.
public enum NetworkError: Error, CustomStringConvertible, Sendable, Equatable {
    case badConfiguration(String)
    case pluginNotFound(type: String, searched: [String])
    /// A CNI plugin failed; `message` is its error (CNI error `msg` and `details`).
    case pluginFailed(plugin: String, command: String, id: String, message: String)
    case namespaceFailed(name: String, message: String)
    case badResult(plugin: String, detail: String)

    public var description: String {
        switch self {
        case .badConfiguration(let message):
            return message
        case .pluginNotFound(let type, let searched):
            return "CNI plugin \(type) not found in \(searched.joined(separator: ", ")); install containernetworking-plugins"
        case .pluginFailed(let plugin, let command, let id, let message):
            return "CNI \(plugin) \(command) for container \(id) failed: \(message)"
        case .namespaceFailed(let name, let message):
            return "cannot set up network namespace \(name): \(message)"
        case .badResult(let plugin, let detail):
            return "CNI \(plugin) returned a result Pier cannot use: \(detail)"
        }
    }
}

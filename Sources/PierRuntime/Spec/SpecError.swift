/// Why a runtime spec cannot be built.
public enum SpecError: Error, CustomStringConvertible, Sendable, Equatable {
    case noCommand
    case missingNetworkNamespace(id: String)

    public var description: String {
        switch self {
        case .noCommand:
            return "no command: the image has no entrypoint or cmd; give a command after the image name"
        case .missingNetworkNamespace(let id):
            return "container \(id) uses the bridge network but no network namespace was set up for it"
        }
    }
}

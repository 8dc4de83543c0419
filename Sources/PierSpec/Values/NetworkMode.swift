/// `--network`: how the container is connected.
public enum NetworkMode: String, Sendable, Hashable, CaseIterable {
    /// Its own network namespace with a veth on the `pier0` bridge (CNI), NAT and port mapping.
    case bridge
    /// The node's network namespace.
    case host
    /// Its own network namespace with only a loopback interface.
    case none

    /// Parses a `--network` value; nil or `default` is `bridge`.
    public init(parsing text: String?) throws {
        guard let text, !text.isEmpty, text != "default" else { self = .bridge; return }
        guard let mode = NetworkMode(rawValue: text) else {
            throw ContainerSpecError.invalid(flag: "--network", value: text, expected: "expected bridge, host or none")
        }
        self = mode
    }
}

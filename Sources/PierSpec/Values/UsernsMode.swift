/// `--userns`: the host's user namespace, or one remapped to the node's subordinate range.
public enum UsernsMode: String, Sendable, Hashable, Codable {
    case host, remap

    public init(parsing text: String, flag: String = "--userns") throws {
        guard let mode = UsernsMode(rawValue: text) else {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: "use host or remap")
        }
        self = mode
    }
}

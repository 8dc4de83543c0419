/// A seccomp policy: a default action and rules that apply by capability, architecture and
/// kernel. The runtime's ``pierDefault`` is Pier's own; a Docker-format profile parses into one
/// (``init(dockerProfile:)``), so a profile is checked wherever a spec is validated. The runtime
/// resolves it into the runtime-spec `linux.seccomp` of one container.
public struct SeccompPolicy: Sendable, Hashable {
    public var defaultAction: SeccompAction
    /// The architectures the filter covers; nil: the node's own and its compat ones.
    public var architectures: [SeccompArchitecture]?
    public var rules: [SeccompRule]

    public init(defaultAction: SeccompAction, architectures: [SeccompArchitecture]? = nil, rules: [SeccompRule]) {
        self.defaultAction = defaultAction; self.architectures = architectures; self.rules = rules
    }
}

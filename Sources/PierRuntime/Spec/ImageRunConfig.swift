/// What the runtime needs of an image's config (OCI image-spec `config`): its run defaults.
/// The agent maps the image store's config to this.
public struct ImageRunConfig: Sendable, Equatable {
    public var entrypoint: [String]?
    public var cmd: [String]?
    /// `KEY=VALUE` entries.
    public var env: [String]
    public var workingDir: String?
    public var user: String?
    public var stopSignal: String?
    /// The OCI architecture the image was built for (`amd64`, `386`, `arm64`, `arm`): which of the
    /// node's architectures the seccomp filter must cover. nil: the node's own.
    public var architecture: String?

    public init(
        entrypoint: [String]? = nil, cmd: [String]? = nil, env: [String] = [], workingDir: String? = nil,
        user: String? = nil, stopSignal: String? = nil, architecture: String? = nil
    ) {
        self.entrypoint = entrypoint; self.cmd = cmd; self.env = env; self.workingDir = workingDir
        self.user = user; self.stopSignal = stopSignal; self.architecture = architecture
    }
}

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

    public init(
        entrypoint: [String]? = nil, cmd: [String]? = nil, env: [String] = [], workingDir: String? = nil,
        user: String? = nil, stopSignal: String? = nil
    ) {
        self.entrypoint = entrypoint; self.cmd = cmd; self.env = env; self.workingDir = workingDir
        self.user = user; self.stopSignal = stopSignal
    }
}

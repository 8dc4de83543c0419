/// `POST /v1/containers/{id}/exec`: a process run in a running container.
public struct ExecRequest: Codable, Sendable, Equatable {
    public var command: [String]
    public var env: [String]
    public var workdir: String?
    public var user: String?
    public init(command: [String], env: [String] = [], workdir: String? = nil, user: String? = nil) {
        self.command = command; self.env = env; self.workdir = workdir; self.user = user
    }
}

/// Answer to a create: the new container's id and name.
public struct ContainerCreated: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public init(id: String, name: String) { self.id = id; self.name = name }
}

/// Answer to `wait`, and the payload of the exit frame of an attached stream.
public struct ContainerExit: Codable, Sendable, Equatable {
    public var exitCode: Int32
    public var error: String?
    public init(exitCode: Int32, error: String? = nil) { self.exitCode = exitCode; self.error = error }
}

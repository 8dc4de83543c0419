import PierSpec
import AsyncHTTPClient
import PierAPI

/// Container endpoints of docs/agent-api.md. `ref` is an id, a unique id prefix or a name.
extension AgentClient {
    /// `GET /v1/containers[?all=1]`: running containers, or all with `all`.
    public func listContainers(all: Bool) async throws -> [ContainerSummary] {
        try await decode([ContainerSummary].self, .GET, "/v1/containers", query: all ? [("all", "1")] : [])
    }

    /// `POST /v1/containers[?start=1]`: creates (and with `start`, starts) a container.
    public func createContainer(_ request: ContainerSpec, start: Bool) async throws -> ContainerCreated {
        try await decode(ContainerCreated.self, .POST, "/v1/containers", query: start ? [("start", "1")] : [],
                         body: Self.json(request))
    }

    /// `POST /v1/containers?start=1&attach=1`: creates and starts a container in one request and
    /// streams its output until it exits. This is the whole of `pier run` in the foreground.
    public func runAttached(_ request: ContainerSpec) async throws -> AttachedStream {
        let response = try await send(.POST, "/v1/containers", query: [("start", "1"), ("attach", "1")],
                                      body: Self.json(request))
        return AttachedStream(response: response, request: "POST /v1/containers")
    }

    /// `GET /v1/containers/{ref}`.
    public func inspectContainer(_ ref: String) async throws -> ContainerDetails {
        try await decode(ContainerDetails.self, .GET, "/v1/containers/" + Self.segment(ref))
    }

    /// `POST /v1/containers/{ref}/start`.
    public func startContainer(_ ref: String) async throws {
        try await perform(.POST, "/v1/containers/\(Self.segment(ref))/start")
    }

    /// `POST /v1/containers/{ref}/stop[?t=N]`: the stop signal, then SIGKILL after `timeout` seconds.
    public func stopContainer(_ ref: String, timeout: Int?) async throws {
        try await perform(.POST, "/v1/containers/\(Self.segment(ref))/stop", query: timeout.map { [("t", String($0))] } ?? [])
    }

    /// `POST /v1/containers/{ref}/restart[?t=N]`.
    public func restartContainer(_ ref: String, timeout: Int?) async throws {
        try await perform(.POST, "/v1/containers/\(Self.segment(ref))/restart", query: timeout.map { [("t", String($0))] } ?? [])
    }

    /// `POST /v1/containers/{ref}/kill?signal=SIG`.
    public func killContainer(_ ref: String, signal: String) async throws {
        try await perform(.POST, "/v1/containers/\(Self.segment(ref))/kill", query: [("signal", signal)])
    }

    /// `DELETE /v1/containers/{ref}[?force=1]`.
    public func removeContainer(_ ref: String, force: Bool) async throws {
        try await perform(.DELETE, "/v1/containers/" + Self.segment(ref), query: force ? [("force", "1")] : [])
    }

    /// `GET /v1/containers/{ref}/wait`: returns when the container has stopped.
    public func waitContainer(_ ref: String) async throws -> ContainerExit {
        try await decode(ContainerExit.self, .GET, "/v1/containers/\(Self.segment(ref))/wait")
    }

    /// `GET /v1/containers/{ref}/logs`: the stored output, and with `follow` what comes after.
    public func logs(_ ref: String, follow: Bool, tail: Int?, timestamps: Bool) async throws -> AttachedStream {
        try await logStream("/v1/containers/\(Self.segment(ref))/logs", follow: follow, tail: tail, timestamps: timestamps)
    }

    /// A logs route (a container's, or a service's on the manager) with its query.
    func logStream(_ path: String, follow: Bool, tail: Int?, timestamps: Bool) async throws -> AttachedStream {
        var query: [(String, String)] = []
        if follow { query.append(("follow", "1")) }
        if let tail { query.append(("tail", String(tail))) }
        if timestamps { query.append(("timestamps", "1")) }
        return AttachedStream(response: try await send(.GET, path, query: query), request: "GET " + path)
    }

    /// `POST /v1/containers/{ref}/exec`: runs a process in the running container, streaming its output.
    public func exec(_ ref: String, _ request: ExecRequest) async throws -> AttachedStream {
        let path = "/v1/containers/\(Self.segment(ref))/exec"
        let response = try await send(.POST, path, body: Self.json(request))
        return AttachedStream(response: response, request: "POST " + path)
    }

    /// `GET /v1/containers/{ref}/stats`.
    public func stats(_ ref: String) async throws -> ContainerStats {
        try await decode(ContainerStats.self, .GET, "/v1/containers/\(Self.segment(ref))/stats")
    }

    /// `GET /v1/stats`: every running container.
    public func allStats() async throws -> [ContainerStats] {
        try await decode([ContainerStats].self, .GET, "/v1/stats")
    }
}

import PierAPI

/// System endpoints of docs/agent-api.md.
extension AgentClient {
    /// `GET /v1/info`.
    public func info() async throws -> AgentInfo {
        try await decode(AgentInfo.self, .GET, "/v1/info")
    }

    /// `GET /v1/system/df`: what the image store holds, once and shared.
    public func diskUsage() async throws -> DiskUsage {
        try await decode(DiskUsage.self, .GET, "/v1/system/df")
    }
}

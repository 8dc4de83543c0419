import Foundation
import PierAPI

/// Adapter from the runtime (PierRuntime) to what the agent needs. (Wiring in progress.)
final class RuntimeBackend: RuntimeProvider {
    let runcDescription = "runc"
    init(configuration: AgentConfiguration) throws {}
    func validate(_ request: ContainerCreateRequest) throws {}
    func launch(id: String, request: ContainerCreateRequest, image: RunnableImage, layers: [URL], command: [String],
                directory: URL, logPath: URL, foreground: Bool) async throws -> LaunchResult { throw AgentError.failed("not wired") }
    func cleanup(id: String, directory: URL, request: ContainerCreateRequest) async {}
    func signal(id: String, signal: String) async throws {}
    func waitForExit(pid: Int32) async {}
    func exitInfo(directory: URL) -> ExitInfo? { nil }
    func isShimAlive(pid: Int32, id: String) -> Bool { false }
    func stats(id: String) throws -> (cpuNanoseconds: UInt64, memoryBytes: UInt64, memoryLimit: UInt64?, pids: UInt64) { (0, 0, nil, 0) }
    func exec(id: String, directory: URL, request: ExecRequest, timeout: Duration?, output: @escaping @Sendable (ExecOutput) -> Void) async throws -> Int32 { 0 }
}

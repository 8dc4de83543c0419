import PierSpec

/// A container runtime as the agent drives it. `RuncRuntime` is the one implementation;
/// another OCI runtime (crun) would be a second conforming type.
public protocol ContainerRuntime: Sendable {
    /// Mounts the rootfs, sets up the network, writes the bundle and starts the container
    /// under its shim. On failure everything it made is undone before it throws.
    func launch(_ request: LaunchRequest) async throws -> LaunchedContainer
    /// Sends a signal to the container's init (`all`: to every process in it).
    func signal(id: String, signal: Signal, all: Bool) async throws
    /// Runs a command in the running container; returns its exit code.
    func exec(
        id: String, layout: ContainerLayout, command: [String], env: [String], workdir: String?, user: String?,
        timeout: Duration?, output: @escaping @Sendable (ProcessOutput) -> Void
    ) async throws -> Int32
    /// CPU, memory and process counts from the container's cgroup.
    func stats(id: String) throws -> ResourceUsage
    /// Undoes `launch` after the container ended: runc state, network, mount, cgroups.
    /// Idempotent; returns what could not be cleaned up.
    func cleanup(id: String, layout: ContainerLayout) async -> [String]
    /// The exit the shim recorded, if it has.
    func exitRecord(layout: ContainerLayout) -> ExitRecord?
    /// Returns when the process (a shim, child or not) has ended.
    func waitForExit(pid: Int32) async -> ProcessExit
    /// Whether `pid` is still the shim of container `id`.
    func isShimAlive(pid: Int32, id: String) -> Bool
}

import PierSpec
import Foundation
import PierOCI
import PierAPI

/// What the container manager needs of an image: its run defaults and its layers.
struct RunnableImage: Sendable {
    /// As the user named it, in display form (`busybox:latest`).
    var reference: String
    /// Manifest digest: the bytes every run of this image uses.
    var digest: String
    var entrypoint: [String]?
    var cmd: [String]?
    var env: [String]
    var workdir: String?
    var user: String?
    var stopSignal: String?
    var labels: [String: String]
    /// The image config's `architecture` (`amd64`, `386`, `arm64`, `arm`).
    var architecture: String
}

/// The image store as the agent sees it (adapter in `ImageBackend.swift`).
protocol ImageProvider: Sendable {
    func runnable(_ reference: String) async throws -> RunnableImage
    /// Unpacked layer directories, top-most first (overlay's lowerdir order).
    func layerPaths(_ image: RunnableImage) async throws -> [URL]
    func list() async throws -> [ImageSummary]
    func details(_ reference: String) async throws -> ImageDetails
    func manifestBytes(_ reference: String) async throws -> Data
    func configBytes(_ reference: String) async throws -> Data
    /// Imports an oci-archive, docker-archive or tarred OCI layout; blobs the store has may be omitted.
    func importArchive(at path: URL, tag: String?) async throws -> [ImportedImage]
    /// Writes an oci-archive of the image to `path`.
    func export(_ reference: String, to path: URL) async throws
    func tag(_ reference: String, as name: String) async throws
    /// Removes a tag (or, by digest, every tag of the image); `inUse` are manifest digests
    /// of containers' images, refused unless `force`.
    func remove(_ reference: String, inUse: Set<String>, force: Bool) async throws
    func prune(pinned: Set<String>) async throws -> PruneReport
    func diskUsage() async throws -> DiskUsage
    /// Every image's manifest digest, to count them.
    func count() async -> Int
    /// `pier image pull|push`: the store against a registry.
    /// `progress` gets lines of per-layer progress while the pull runs.
    func pull(_ request: RegistryTransferRequest, progress: (@Sendable (String) -> Void)?) async throws -> RegistryTransferResult
    func push(_ request: RegistryTransferRequest) async throws -> RegistryTransferResult
    /// Signatures stored for an image, and storing one (`pier image sign`).
    func signatures(_ reference: String) async throws -> [SignatureBlob]
    func addSignature(_ signature: SignatureBlob, to reference: String) async throws -> String
    /// Throws unless the image is signed by one of `trusted`.
    func requireSignature(_ reference: String, trusted: [TrustedKey]) async throws
    /// `pier image du IMAGE… [--from IMAGE…]`: install and update download cost.
    func downloadAnalysis(_ request: DownloadAnalysisRequest) async throws -> DownloadAnalysis
}

/// Result of starting a container under its shim.
struct LaunchResult: Sendable {
    var shimPid: Int32
    var containerPid: Int32?
    var ipAddress: String?
}

/// How a container's main process ended, as its shim recorded it.
struct ExitInfo: Sendable {
    var exitCode: Int32
    var finishedAt: Date
    var error: String?
}

/// Output of a process run inside a container.
enum ExecOutput: Sendable { case stdout([UInt8]), stderr([UInt8]) }

/// The runtime as the container manager sees it (adapter in `RuntimeBackend.swift`):
/// validation without side effects, launch, signals, teardown, stats, exec.
protocol RuntimeProvider: Sendable {
    /// Checks every run option (memory, devices, volumes, ports, user, capabilities…);
    /// throws `AgentError.invalid` naming the bad one. Creates nothing.
    func validate(_ request: ContainerSpec) throws
    /// Mounts the rootfs, sets up the network, writes the bundle and starts the shim.
    /// On failure everything it made is undone before it throws.
    func launch(id: String, request: ContainerSpec, image: RunnableImage, layers: [URL],
                command: [String], directory: URL, logPath: URL, foreground: Bool) async throws -> LaunchResult
    /// Undoes `launch`: unmount, network, cgroups, runc state. Idempotent; returns what could
    /// not be cleaned up.
    func cleanup(id: String, directory: URL) async -> [String]
    func signal(id: String, signal: String) async throws
    /// Waits until the process ends (child or not).
    func waitForExit(pid: Int32) async
    /// The exit the shim recorded, if it has.
    func exitInfo(directory: URL) -> ExitInfo?
    /// Whether `pid` is still the shim of container `id`.
    func isShimAlive(pid: Int32, id: String) -> Bool
    func stats(id: String) throws -> (cpuNanoseconds: UInt64, memoryBytes: UInt64, memoryLimit: UInt64?, pids: UInt64)
    func exec(id: String, directory: URL, request: ExecRequest, timeout: Duration?,
              output: @escaping @Sendable (ExecOutput) -> Void) async throws -> Int32
    /// Whether a launch of `id` got far enough to leave something to clean up.
    func hasLaunchState(id: String, directory: URL) -> Bool
    /// A container is about to start: begin what can overlap its preparation. Returns at once.
    func anticipateStart()
    /// Takes over (or removes) what a previous agent kept ready ahead of need; returns problems.
    func recoverStandby() async -> [String]
    /// Removes what is kept ready ahead of need (the agent is stopping); returns problems.
    func releaseStandby() async -> [String]
    /// How a started container is confined, read from its bundle; nil before its first start.
    func security(directory: URL, request: ContainerSpec) -> ContainerSecurity?
}

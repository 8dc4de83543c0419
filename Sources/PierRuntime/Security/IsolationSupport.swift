import PierSpec
import Foundation

/// What this node can give containers, found once when the runtime starts (`pier info`, and
/// what the agent reports to the manager for scheduling).
public struct IsolationSupport: Sendable, Equatable, Codable {
    /// runc was built with libseccomp (`runc --version` names it).
    public var seccomp: Bool
    /// The kernel has cgroup namespaces.
    public var cgroupNamespace: Bool
    /// The kernel enforces AppArmor.
    public var appArmor: Bool
    /// Pier's default AppArmor profile is loaded (nil profile otherwise).
    public var appArmorProfile: String?
    /// The node's seccomp architecture and the compat ones its filters cover.
    public var architectures: [String]
    public var kernel: String
    /// The init binary `--init` runs (tini), when the node has it.
    public var initBinary: String?
    /// How remapped containers get their layers: idmapped mounts, or chowned copies.
    public var layerIDMapping: LayerIDMapping = .chownedCopy
    /// The user namespace of containers that do not choose one.
    public var usernsDefault: UsernsMode = .host

    public init(
        seccomp: Bool, cgroupNamespace: Bool, appArmor: Bool, appArmorProfile: String?, architectures: [String],
        kernel: String, initBinary: String?
    ) {
        self.seccomp = seccomp; self.cgroupNamespace = cgroupNamespace; self.appArmor = appArmor
        self.appArmorProfile = appArmorProfile; self.architectures = architectures; self.kernel = kernel
        self.initBinary = initBinary
    }

    /// Paths where Debian (and Docker) install a static tini.
    public static let initCandidates = ["/usr/bin/tini-static", "/usr/libexec/docker/docker-init", "/usr/bin/docker-init"]

    /// Probes the node: runc's version output, /proc, sysfs. Where AppArmor is enabled and
    /// Pier's profile is not loaded yet, loads it from `profileDirectory` (a failure leaves
    /// containers without a default profile and is returned as a problem).
    public static func detect(runc: String, profileDirectory: URL) -> (IsolationSupport, problem: String?) {
        let version = (try? Subprocess.run(runc, ["--version"], timeout: .seconds(10)))?.stdoutText ?? ""
        let appArmor = AppArmor.isEnabled()
        var problem: String?
        if appArmor && !AppArmor.isLoaded(AppArmor.defaultProfileName) {
            do { try AppArmor.loadDefaultProfile(directory: profileDirectory) } catch { problem = "\(error)" }
        }
        let support = IsolationSupport(
            seccomp: version.contains("libseccomp"),
            cgroupNamespace: FileManager.default.fileExists(atPath: "/proc/self/ns/cgroup"),
            appArmor: appArmor,
            appArmorProfile: appArmor && AppArmor.isLoaded(AppArmor.defaultProfileName) ? AppArmor.defaultProfileName : nil,
            architectures: SeccompArchitecture.native.family.map(\.rawValue),
            kernel: KernelVersion.running.description,
            initBinary: initCandidates.first { FileManager.default.isExecutableFile(atPath: $0) })
        return (support, problem)
    }

    /// What a node is assumed to have before it is probed: runc with seccomp, nothing optional.
    public static let baseline = IsolationSupport(
        seccomp: true, cgroupNamespace: true, appArmor: false, appArmorProfile: nil,
        architectures: SeccompArchitecture.native.family.map(\.rawValue), kernel: KernelVersion.running.description,
        initBinary: initCandidates.first { FileManager.default.isExecutableFile(atPath: $0) })
}

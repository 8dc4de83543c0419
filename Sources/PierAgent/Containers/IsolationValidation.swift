import PierAPI
import PierRuntime

/// Checks a request's isolation and resource options (security options and their seccomp
/// profile, tmpfs, mounts, ulimits, sysctls, pids limit, user namespace) without touching the host: what a
/// manager can refuse before a service is stored. Host paths are left to the node that runs it.
public enum IsolationValidation {
    public static func check(_ r: ContainerCreateRequest) throws {
        let mounts = r.mounts.filter { !$0.contains("type=bind") }
        do {
            for mount in r.mounts where mount.contains("type=bind") { _ = try MountOption(parsing: mount, checkHostPath: false) }
            _ = try ContainerOptions(parsing: RawContainerOptions(
                pidsLimit: r.pidsLimit, network: r.network, privileged: r.privileged, securityOpt: r.securityOpt, tmpfs: r.tmpfs,
                mounts: mounts, ulimits: r.ulimits, shmSize: r.shmSize, sysctls: r.sysctls, initProcess: r.initProcess,
                userns: r.userns))
        } catch let error as RuntimeOptionError {
            throw AgentError.invalid(error.description)
        }
    }
}

import Foundation
import PierAPI
import PierCluster
import PierSpec

/// The flags of `pier service update` as typed. ``apply(to:environment:)`` changes only what
/// was given in the service's current spec, removals before additions, as Docker does.
public struct ServiceUpdateOptions: Sendable, Equatable {
    public var settings = ServiceSettings()
    public var image: String?
    /// The tasks' command as one shell-quoted string: `--args "sh -c 'sleep 5'"`; `""` clears it.
    public var args: String?
    /// `KEY=VALUE`, or `KEY` (value from the client's environment); replaces a variable of that name.
    public var envAdd: [String] = []
    /// Variable names.
    public var envRemove: [String] = []
    public var labelAdd: [String] = []
    /// Label keys.
    public var labelRemove: [String] = []
    public var containerLabelAdd: [String] = []
    public var containerLabelRemove: [String] = []
    public var constraintAdd: [String] = []
    /// Constraints, exactly as they were added.
    public var constraintRemove: [String] = []
    public var placementPreferenceAdd: [String] = []
    public var placementPreferenceRemove: [String] = []
    public var publishAdd: [String] = []
    /// The container port (`80`, `53/udp`) or the whole entry (`8080:80`).
    public var publishRemove: [String] = []
    public var volumeAdd: [String] = []
    /// The container path (`/data`) or the whole entry.
    public var volumeRemove: [String] = []
    public var deviceAdd: [String] = []
    /// The host path (`/dev/ttyUSB0`) or the whole entry.
    public var deviceRemove: [String] = []
    /// `--privileged` / `--no-privileged`; nil leaves it.
    public var privileged: Bool?
    /// `--security-opt-add seccomp=PROFILE.json` (the client reads the file), `no-new-privileges`, `apparmor=NAME`.
    public var securityOptAdd: [String] = []
    /// Keys (`seccomp`, `apparmor`, `no-new-privileges`).
    public var securityOptRemove: [String] = []
    public var tmpfsAdd: [String] = []
    /// Container paths.
    public var tmpfsRemove: [String] = []
    public var mountAdd: [String] = []
    /// Container paths (the mount's `target`).
    public var mountRemove: [String] = []
    public var ulimitAdd: [String] = []
    /// Limit names (`nofile`).
    public var ulimitRemove: [String] = []
    /// `KEY=VALUE`.
    public var sysctlAdd: [String] = []
    /// Parameter names.
    public var sysctlRemove: [String] = []
    /// `--init` / `--no-init`; nil leaves it.
    public var initProcess: Bool?
    /// `host` or `remap`; `""` returns to each node's default.
    public var userns: String?

    public init() {}

    /// `spec` with the given flags applied. Errors name the flag and its value. `readFile` reads
    /// a seccomp profile given with `--security-opt-add seccomp=PATH`.
    public func apply(
        to spec: ServiceSpec, environment: [String: String],
        readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }
    ) throws(ClientError) -> ServiceSpec {
        var spec = spec
        var c = spec.task.container
        if let image {
            guard !image.isEmpty else { throw .invalidArgument("--image is empty: give an image reference, e.g. sensor:1.1") }
            c.image = image
        }
        if let args {
            guard let words = ShellWords.split(args) else {
                throw .invalidArgument("--args \"\(args)\": a quote is not closed (or it ends in a backslash)")
            }
            c.command = words
        }

        let removedKeys = Set(envRemove.map { Substring($0) })
        c.env.removeAll { removedKeys.contains(ServiceFlagValues.envKey($0)) }
        for entry in envAdd {
            guard let resolved = try EnvFile.resolve(entry, environment: environment, origin: "--env-add") else { continue }
            let key = ServiceFlagValues.envKey(resolved)
            c.env.removeAll { ServiceFlagValues.envKey($0) == key }
            c.env.append(resolved)
        }

        for key in containerLabelRemove { c.labels.removeValue(forKey: key) }
        for (key, value) in try ServiceFlagValues.labels(containerLabelAdd, flag: "--container-label-add") { c.labels[key] = value }
        for key in labelRemove { spec.labels.removeValue(forKey: key) }
        for (key, value) in try ServiceFlagValues.labels(labelAdd, flag: "--label-add") { spec.labels[key] = value }

        for target in publishRemove {
            let wanted = target.contains("/") ? target.lowercased() : target + "/tcp"
            c.publish.removeAll { $0 == target || ServiceFlagValues.publishTarget($0) == wanted }
        }
        for entry in publishAdd {
            let checked = try ServiceFlagValues.publish(entry, flag: "--publish-add")
            c.publish.removeAll { $0 == checked }
            c.publish.append(checked)
        }

        for target in volumeRemove {
            c.volumes.removeAll { entry in
                let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
                return entry == target || (parts.count > 1 && parts[1] == target)
            }
        }
        for entry in volumeAdd {
            let checked = try ServiceFlagValues.volume(entry, flag: "--volume-add")
            c.volumes.removeAll { $0 == checked }
            c.volumes.append(checked)
        }

        for target in deviceRemove {
            c.devices.removeAll { $0 == target || $0.split(separator: ":").first.map(String.init) == target }
        }
        for entry in deviceAdd {
            let checked = try ServiceFlagValues.device(entry, flag: "--device-add")
            c.devices.removeAll { $0 == checked }
            c.devices.append(checked)
        }
        try applyIsolation(to: &c, readFile: readFile)
        spec.task.container = c

        var placement = spec.task.placement
        placement.constraints.removeAll { constraintRemove.contains($0) }
        for entry in constraintAdd {
            let checked = try ServiceFlagValues.constraint(entry, flag: "--constraint-add")
            if !placement.constraints.contains(checked) { placement.constraints.append(checked) }
        }
        placement.preferences.removeAll { placementPreferenceRemove.contains($0) }
        for entry in placementPreferenceAdd {
            let checked = try ServiceFlagValues.placementPreference(entry, flag: "--placement-pref-add")
            if !placement.preferences.contains(checked) { placement.preferences.append(checked) }
        }
        spec.task.placement = placement

        try settings.apply(to: &spec)
        // The manager's checks, made before the request is sent.
        do { try spec.validate() } catch { throw .invalidArgument("\(error)") }
        return spec
    }

    /// Privileges, security options, tmpfs and mounts, ulimits, sysctls, init and user namespace:
    /// removals first, then additions, an added entry replacing one with the same key.
    func applyIsolation(to c: inout ContainerSpec, readFile: (String) throws -> String) throws(ClientError) {
        if let privileged { c.privileged = privileged }
        func key(_ entry: String) -> Substring { entry.prefix { $0 != "=" && $0 != ":" } }
        c.securityOpt.removeAll { securityOptRemove.contains(String(key($0))) }
        for entry in try RunOptions.securityOptions(securityOptAdd, readFile: readFile) {
            c.securityOpt.removeAll { key($0) == key(entry) }
            c.securityOpt.append(entry)
        }
        func tmpfsPath(_ entry: String) -> Substring { entry.prefix { $0 != ":" } }
        c.tmpfs.removeAll { tmpfsRemove.contains(String(tmpfsPath($0))) }
        for entry in tmpfsAdd {
            c.tmpfs.removeAll { tmpfsPath($0) == tmpfsPath(entry) }
            c.tmpfs.append(entry)
        }
        func target(_ entry: String) -> String? {
            entry.split(separator: ",").compactMap { field -> String? in
                let parts = field.split(separator: "=", maxSplits: 1).map(String.init)
                return parts.count == 2 && ["target", "destination", "dst"].contains(parts[0]) ? parts[1] : nil
            }.first
        }
        c.mounts.removeAll { entry in mountRemove.contains { $0 == entry || $0 == target(entry) } }
        for entry in mountAdd {
            c.mounts.removeAll { target($0) != nil && target($0) == target(entry) }
            c.mounts.append(entry)
        }
        c.ulimits.removeAll { ulimitRemove.contains(String(key($0))) }
        for entry in ulimitAdd {
            c.ulimits.removeAll { key($0) == key(entry) }
            c.ulimits.append(entry)
        }
        for name in sysctlRemove { c.sysctls.removeValue(forKey: name) }
        for (name, value) in try RunOptions.sysctls(sysctlAdd, flag: "--sysctl-add") { c.sysctls[name] = value }
        if let initProcess { c.initProcess = initProcess }
        if let userns {
            guard ["", "host", "remap"].contains(userns) else {
                throw .invalidArgument("--userns \(userns): use host, remap, or \"\" for each node's default")
            }
            c.userns = userns.isEmpty ? nil : userns
        }
    }
}

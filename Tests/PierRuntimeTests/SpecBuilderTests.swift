import PierSpec
import Foundation
import Testing

@testable import PierRuntime

@Suite("Spec builder")
struct SpecBuilderTests {
    let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

    /// A rootfs holding only /etc/passwd and /etc/group.
    func withRootfs<T>(_ body: (URL) throws -> T) throws -> T {
        let dir = try TestSupport.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("etc"), withIntermediateDirectories: true)
        try TestSupport.passwd.write(to: dir.appendingPathComponent("etc/passwd"), atomically: true, encoding: .utf8)
        try TestSupport.group.write(to: dir.appendingPathComponent("etc/group"), atomically: true, encoding: .utf8)
        return try body(dir)
    }

    func build(
        _ options: ContainerOptions = ContainerOptions(network: .none), devices: [DeviceMapping] = [],
        image: ImageRunConfig = ImageRunConfig(cmd: ["sh"]), netns: String? = nil, swap: Bool = true
    ) throws -> RuntimeSpec {
        try withRootfs { rootfs in
            try SpecBuilder(
                id: id, options: options, devices: devices, image: image, rootfs: rootfs,
                etcFiles: ContainerEtcFiles(directory: URL(fileURLWithPath: "/bundle/etc")),
                networkNamespace: netns, swapAccounting: swap
            ).build()
        }
    }

    @Test("defaults follow Docker: capabilities, masked paths, namespaces, mounts, cgroup path")
    func dockerDefaults() throws {
        let spec = try build(ContainerOptions(network: .bridge), netns: "/run/netns/pier-0123456789ab")
        let process = try #require(spec.process)
        let caps = try #require(process.capabilities)
        #expect(caps.bounding == Capabilities.dockerDefault)
        #expect(caps.effective == Capabilities.dockerDefault)
        #expect(caps.permitted == Capabilities.dockerDefault)
        #expect(caps.inheritable == nil && caps.ambient == nil)
        #expect(Capabilities.dockerDefault.count == 14)
        #expect(process.noNewPrivileges == true)
        #expect(process.rlimits == [RuntimeSpec.Rlimit(type: "RLIMIT_NOFILE", hard: DefaultProfile.nofile, soft: DefaultProfile.nofile)])
        #expect(DefaultProfile.nofile >= 1 && DefaultProfile.nofile <= 1_048_576)
        #expect(process.user == RuntimeSpec.User(uid: 0, gid: 0, umask: 0o022))
        #expect(process.cwd == "/")
        let linux = try #require(spec.linux)
        #expect(linux.cgroupsPath == "/pier/\(id)")
        #expect(linux.maskedPaths?.contains("/proc/kcore") == true)
        #expect(linux.maskedPaths?.contains("/sys/firmware") == true)
        #expect(linux.readonlyPaths == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"])
        #expect(
            linux.namespaces == [
                .init(type: "pid"), .init(type: "ipc"), .init(type: "uts"), .init(type: "mount"), .init(type: "cgroup"),
                .init(type: "network", path: "/run/netns/pier-0123456789ab"),
            ])
        let mounts = try #require(spec.mounts)
        for dest in ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"] {
            #expect(mounts.contains { $0.destination == dest }, "missing \(dest)")
        }
        #expect(mounts.first { $0.destination == "/sys" }?.options?.contains("ro") == true)
        #expect(mounts.first { $0.destination == "/sys/fs/cgroup" }?.options?.contains("ro") == true)
        #expect(mounts.first { $0.destination == "/dev" }?.type == "tmpfs")
        #expect(
            mounts.first { $0.destination == "/etc/resolv.conf" }
                == RuntimeSpec.Mount(
                    destination: "/etc/resolv.conf", type: "bind", source: "/bundle/etc/resolv.conf", options: ["rbind", "rprivate", "rw"]))
        #expect(spec.hostname == "0123456789ab")
        #expect(spec.root?.readonly == nil)
        #expect(linux.resources?.memory == nil && linux.resources?.cpu == nil)
        #expect(linux.resources?.pids?.limit == DefaultProfile.pidsLimit)
        #expect(linux.seccomp == SeccompPolicy.resolvedDefault(capabilities: Capabilities.dockerDefault))
    }

    @Test("a non-root user keeps capabilities only in the bounding set")
    func nonRootCapabilities() throws {
        let spec = try build(ContainerOptions(user: UserSpec(user: "app"), network: .none))
        let caps = try #require(spec.process?.capabilities)
        #expect(caps.bounding == Capabilities.dockerDefault)
        #expect(caps.effective == nil && caps.permitted == nil && caps.inheritable == nil && caps.ambient == nil)
        #expect(spec.process?.user == RuntimeSpec.User(uid: 1000, gid: 1000, umask: 0o022, additionalGids: [20, 29]))
    }

    @Test("cap-add and cap-drop as Docker applies them")
    func capAddDrop() throws {
        let added = try build(ContainerOptions(network: .none, capAdd: ["CAP_NET_ADMIN"], capDrop: ["CAP_MKNOD"]))
        let caps = try #require(added.process?.capabilities?.effective)
        #expect(caps.contains("CAP_NET_ADMIN") && !caps.contains("CAP_MKNOD") && caps.contains("CAP_CHOWN"))

        let all = try build(ContainerOptions(network: .none, capAdd: ["ALL"], capDrop: ["CAP_SYS_ADMIN"]))
        let allCaps = try #require(all.process?.capabilities?.bounding)
        #expect(allCaps.count == Capabilities.all.count - 1 && !allCaps.contains("CAP_SYS_ADMIN"))

        let none = try build(ContainerOptions(network: .none, capAdd: ["CAP_NET_BIND_SERVICE"], capDrop: ["ALL"]))
        #expect(none.process?.capabilities?.bounding == ["CAP_NET_BIND_SERVICE"])
    }

    @Test("device cgroup: deny all, allow defaults, allow exactly the declared devices")
    func deviceRules() throws {
        let sensor = DeviceMapping(
            hostPath: "/dev/i2c-1", containerPath: "/dev/i2c-1", permissions: "rw", kind: .character,
            major: 89, minor: 1, fileMode: 0o660, uid: 0, gid: 20)
        let spec = try build(ContainerOptions(network: .none), devices: [sensor])
        let linux = try #require(spec.linux)
        let rules = try #require(linux.resources?.devices)
        #expect(rules.first == RuntimeSpec.DeviceRule(allow: false, access: "rwm"))
        #expect(rules.last == RuntimeSpec.DeviceRule(allow: true, type: "c", major: 89, minor: 1, access: "rw"))
        #expect(!rules.contains { $0.allow && ($0.type == nil || $0.type == "a") }, "nothing may allow every device")
        let readWrite = rules.filter { $0.allow && ($0.access?.contains("r") == true || $0.access?.contains("w") == true) }
        #expect(readWrite.allSatisfy { $0.major != nil }, "read or write is only ever allowed for named devices")
        for (major, minor) in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0)] {
            #expect(rules.contains { $0.allow && $0.major == Int64(major) && $0.minor == Int64(minor) && $0.access == "rwm" })
        }
        let devices = try #require(linux.devices)
        #expect(devices.contains(RuntimeSpec.Device(path: "/dev/i2c-1", type: "c", major: 89, minor: 1, fileMode: 0o660, uid: 0, gid: 20)))
        #expect(
            Set(devices.map(\.path)) == ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/i2c-1"])
    }

    @Test("environment: image then user (user wins), default PATH, HOSTNAME")
    func environment() throws {
        let env = SpecBuilder.environment(image: ["PATH=/img/bin", "A=1", "B=2"], user: ["B=3", "C=4"], hostname: "h")
        #expect(env == ["HOSTNAME=h", "PATH=/img/bin", "A=1", "B=3", "C=4"])
        let defaults = SpecBuilder.environment(image: [], user: ["X=y"], hostname: "h")
        #expect(defaults == ["PATH=\(DefaultProfile.path)", "HOSTNAME=h", "X=y"])
        let spec = try build(ContainerOptions(env: ["B=3"], network: .none), image: ImageRunConfig(cmd: ["sh"], env: ["B=2"]))
        #expect(spec.process?.env?.contains("B=3") == true && spec.process?.env?.contains("B=2") == false)
    }

    @Test("arguments: entrypoint and cmd merged as Docker does")
    func arguments() throws {
        let image = ImageRunConfig(entrypoint: ["/entry"], cmd: ["default"])
        #expect(try SpecBuilder.arguments(options: ContainerOptions(), image: image) == ["/entry", "default"])
        #expect(try SpecBuilder.arguments(options: ContainerOptions(command: ["mine"]), image: image) == ["/entry", "mine"])
        #expect(try SpecBuilder.arguments(options: ContainerOptions(entrypoint: ["/other"]), image: image) == ["/other"])
        #expect(try SpecBuilder.arguments(options: ContainerOptions(entrypoint: [], command: ["sh"]), image: image) == ["sh"])
        #expect(throws: SpecError.noCommand) {
            try SpecBuilder.arguments(options: ContainerOptions(entrypoint: []), image: image)
        }
        #expect(throws: SpecError.noCommand) {
            try SpecBuilder.arguments(options: ContainerOptions(), image: ImageRunConfig())
        }
    }

    @Test("users are resolved from the container's own passwd and group files")
    func userResolution() throws {
        try withRootfs { (rootfs: URL) throws -> Void in
            let r = UserResolver(rootfs: rootfs)
            #expect(try r.resolve(nil) == ResolvedUser(uid: 0, gid: 0, additionalGids: [], name: "root", home: "/root"))
            #expect(
                try r.resolve(UserSpec(user: "app"))
                    == ResolvedUser(uid: 1000, gid: 1000, additionalGids: [20, 29], name: "app", home: "/home/app"))
            #expect(try r.resolve(UserSpec(user: "app", group: "staff")).gid == 50)
            #expect(try r.resolve(UserSpec(user: "app", group: "staff")).additionalGids == [])
            #expect(try r.resolve(UserSpec(user: "1000")).name == "app")
            #expect(try r.resolve(UserSpec(user: "4242", group: "4343")) == ResolvedUser(uid: 4242, gid: 4343, home: "/"))
            #expect(try r.resolve(UserSpec(user: "4242")).gid == 0)
            #expect(try r.resolve(UserSpec(user: "nobody")).additionalGids == [29])
            #expect(throws: ContainerSpecError.unknownUser(flag: "--user", name: "ghost", file: "/etc/passwd")) {
                try r.resolve(UserSpec(user: "ghost"))
            }
            #expect(throws: ContainerSpecError.unknownUser(flag: "--user", name: "wheel", file: "/etc/group")) {
                try r.resolve(UserSpec(user: "app", group: "wheel"))
            }
            let message = "\(ContainerSpecError.unknownUser(flag: "--user", name: "ghost", file: "/etc/passwd"))"
            #expect(message.contains("--user") && message.contains("ghost"))
        }
        // Without the image's files only numbers work.
        let empty = try TestSupport.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(try UserResolver(rootfs: empty).resolve(UserSpec(user: "7")) == ResolvedUser(uid: 7, gid: 0, home: "/"))
        #expect(throws: ContainerSpecError.self) { try UserResolver(rootfs: empty).resolve(UserSpec(user: "app")) }
    }

    @Test("the image's user applies when --user is not given")
    func imageUser() throws {
        let spec = try build(image: ImageRunConfig(cmd: ["sh"], user: "app:staff"))
        #expect(spec.process?.user == RuntimeSpec.User(uid: 1000, gid: 50, umask: 0o022))
        #expect(throws: ContainerSpecError.unknownUser(flag: "image config User", name: "ghost", file: "/etc/passwd")) {
            try build(image: ImageRunConfig(cmd: ["sh"], user: "ghost"))
        }
    }

    @Test("resources: memory (swap = limit), CPU quota, pids")
    func resources() throws {
        let options = ContainerOptions(
            memory: MemorySize(bytes: 64 << 20), cpus: try CPULimit(cpus: 1.5, available: 2),
            pidsLimit: 10, network: .none)
        let resources = try #require(try build(options).linux?.resources)
        #expect(resources.memory == RuntimeSpec.Memory(limit: 64 << 20, swap: 64 << 20))
        #expect(resources.cpu == RuntimeSpec.CPU(quota: 150_000, period: 100_000))
        #expect(resources.pids == RuntimeSpec.Pids(limit: 10))
        #expect(try build(options, swap: false).linux?.resources?.memory == RuntimeSpec.Memory(limit: 64 << 20))
    }

    @Test("network modes: host shares the node's namespace, none gets a fresh one, bridge needs its namespace")
    func networkModes() throws {
        let host = try build(ContainerOptions(network: .host))
        #expect(host.linux?.namespaces?.contains { $0.type == "network" } == false)
        #expect(host.hostname == SpecBuilder.nodeHostname())
        let none = try build(ContainerOptions(network: .none))
        #expect(none.linux?.namespaces?.contains(.init(type: "network")) == true)
        #expect(throws: SpecError.missingNetworkNamespace(id: id)) { try build(ContainerOptions(network: .bridge)) }
    }

    @Test("read-only root, bind mounts ordered parent first, working directory")
    func readOnlyAndVolumes() throws {
        let options = ContainerOptions(
            workdir: "/srv", readOnly: true,
            volumes: [
                BindMount(source: "/host/b", destination: "/data/sub", readOnly: false),
                BindMount(source: "/host/a", destination: "/data", readOnly: true),
            ],
            network: .none)
        let spec = try build(options)
        #expect(spec.root?.readonly == true)
        #expect(spec.process?.cwd == "/srv")
        let mounts = try #require(spec.mounts)
        let binds = mounts.filter { $0.source?.hasPrefix("/host") == true }
        #expect(
            binds == [
                RuntimeSpec.Mount(destination: "/data", type: "bind", source: "/host/a", options: ["rbind", "rprivate", "ro"]),
                RuntimeSpec.Mount(destination: "/data/sub", type: "bind", source: "/host/b", options: ["rbind", "rprivate", "rw"]),
            ])
        #expect(mounts.first { $0.destination == "/etc/hosts" }?.options?.last == "ro")
    }

    @Test("config.json uses the runtime-spec's field names and leaves unset fields out")
    func jsonNames() throws {
        let sensor = DeviceMapping(hostPath: "/dev/x", containerPath: "/dev/x", permissions: "r", kind: .block, major: 8, minor: 0)
        let spec = try build(
            ContainerOptions(user: UserSpec(user: "app"), memory: MemorySize(bytes: 8 << 20), network: .none), devices: [sensor])
        let json = String(decoding: try spec.encoded(), as: UTF8.self)
        for key in [
            "\"ociVersion\":\"1.0.2\"", "\"cgroupsPath\":\"/pier/\(id)\"", "\"noNewPrivileges\":true", "\"maskedPaths\"",
            "\"readonlyPaths\"", "\"fileMode\"", "\"additionalGids\"", "\"rlimits\"", "\"type\":\"RLIMIT_NOFILE\"",
            "\"allow\":false", "\"limit\":8388608", "\"bounding\"",
        ] {
            #expect(json.contains(key), "missing \(key)")
        }
        for absent in ["\"ambient\"", "\"effective\"", "\"readonly\"", ":null"] {
            #expect(!json.contains(absent), "unexpected \(absent)")
        }
        #expect(try JSONDecoder().decode(RuntimeSpec.self, from: Data(json.utf8)) == spec)
    }

    @Test("exec processes inherit the container's settings")
    func execProcess() throws {
        let base = try #require(try build().process)
        let p = SpecBuilder.execProcess(
            base: base, command: ["id"], env: ["HOSTNAME=other", "NEW=1"], workdir: "/tmp",
            user: ResolvedUser(uid: 1000, gid: 1000))
        #expect(p.args == ["id"] && p.cwd == "/tmp")
        #expect(p.env?.contains("NEW=1") == true && p.env?.contains("HOSTNAME=other") == true)
        #expect(p.env?.filter { $0.hasPrefix("HOSTNAME=") }.count == 1)
        #expect(p.user == RuntimeSpec.User(uid: 1000, gid: 1000, umask: 0o022))
        #expect(p.capabilities?.effective == nil && p.capabilities?.bounding == Capabilities.dockerDefault)
        #expect(p.noNewPrivileges == true)
    }

    @Test("generated resolv.conf drops loopback name servers; hosts names the container")
    func etcFiles() throws {
        let resolv = ContainerEtcFiles.containerResolvConf(from: "search lan\nnameserver 127.0.0.53\nnameserver 192.168.1.1\n")
        #expect(resolv == "search lan\nnameserver 192.168.1.1\n")
        let fallback = ContainerEtcFiles.containerResolvConf(from: "nameserver 127.0.0.1\n")
        #expect(fallback == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n")

        let dir = try TestSupport.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = ContainerEtcFiles(directory: dir.appendingPathComponent("etc"))
        try files.write(hostname: "box", ipAddress: "10.89.0.7", network: .bridge)
        #expect(try String(contentsOf: files.hostname, encoding: .utf8) == "box\n")
        let hosts = try String(contentsOf: files.hosts, encoding: .utf8)
        #expect(hosts.contains("127.0.0.1\tlocalhost") && hosts.hasSuffix("10.89.0.7\tbox\n"))
        try files.write(hostname: "node", ipAddress: nil, network: .host)
        #expect(
            try String(contentsOf: files.resolvConf, encoding: .utf8) == (try String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)))

        // The node's resolver, when the runtime is handed one, replaces the node's servers; host
        // networking keeps the node's file regardless.
        let resolver = "nameserver 10.89.0.1\nsearch shop.pier pier\noptions ndots:2\n"
        try files.write(hostname: "box", ipAddress: "10.89.0.7", network: .bridge, resolvConfText: resolver)
        #expect(try String(contentsOf: files.resolvConf, encoding: .utf8) == resolver)
        try files.write(hostname: "node", ipAddress: nil, network: .host, resolvConfText: resolver)
        #expect(
            try String(contentsOf: files.resolvConf, encoding: .utf8) == (try String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)))
    }

    @Test("user namespace: a user namespace with the range's maps; sysfs where the container owns its network, the host's /sys read-only where it does not; devices bound from their nodes")
    func userNamespace() throws {
        let mapping = IDMapping(uidStart: 100_000, gidStart: 200_000, count: 65536)
        func spec(_ network: NetworkMode, devices: [DeviceMapping] = [], sources: [String: String] = [:]) throws -> RuntimeSpec {
            try withRootfs { rootfs in
                let options = ContainerOptions(network: network)
                return try SpecBuilder(
                    id: id, options: options, devices: devices, image: ImageRunConfig(cmd: ["sh"]), rootfs: rootfs,
                    networkNamespace: network == .bridge ? "/run/netns/pier-x" : nil, userNamespace: mapping, deviceSources: sources
                ).build()
            }
        }
        let none = try spec(.none)
        #expect(none.linux?.namespaces?.contains(.init(type: "user")) == true)
        #expect(none.linux?.uidMappings == [.init(containerID: 0, hostID: 100_000, size: 65536)])
        #expect(none.linux?.gidMappings == [.init(containerID: 0, hostID: 200_000, size: 65536)])
        #expect(none.mounts?.first { $0.destination == "/sys" }?.type == "sysfs")

        let device = DeviceMapping(hostPath: "/dev/ttyUSB0", containerPath: "/dev/serial", permissions: "rw", kind: .character, major: 188, minor: 0)
        let bridge = try spec(.bridge, devices: [device], sources: ["/dev/serial": "/run/pier/userns/x/devices/0"])
        let sys = try #require(bridge.mounts?.first { $0.destination == "/sys" })
        #expect(sys.type == "bind" && sys.source == "/sys" && sys.options?.contains("ro") == true, "\(sys)")
        #expect(bridge.mounts?.contains { $0.destination == "/dev/serial" && $0.source == "/run/pier/userns/x/devices/0" } == true)
        #expect(bridge.linux?.devices?.contains { $0.path == "/dev/serial" } == false, "runc would bind the host's node at the container path")
        #expect(bridge.linux?.resources?.devices?.contains { $0.major == 188 && $0.minor == 0 && $0.access == "rw" } == true)

        let host = try build(ContainerOptions(network: .none))
        #expect(host.linux?.namespaces?.contains(.init(type: "user")) == false)
        #expect(host.linux?.uidMappings == nil)
    }
}

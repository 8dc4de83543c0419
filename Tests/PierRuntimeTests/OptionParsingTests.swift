@testable import PierSpec
import Foundation
import Testing

@testable import PierRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// Every bad value is refused with a message naming the flag and the value.
@Suite("Option parsing")
struct OptionParsingTests {
    /// Parses `raw` and returns the error message it must produce.
    func message(_ raw: ContainerSpec) -> String? {
        do {
            try raw.validate().checkOnHost()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test(
        "memory sizes in Docker's forms",
        arguments: [
            ("64m", Int64(64 << 20)), ("1g", Int64(1 << 30)), ("512k", Int64(512 << 10)),
            ("1048576000", Int64(1_048_576_000)), ("1.5g", Int64(1_610_612_736)), ("64MiB", Int64(64 << 20)), ("8MB", Int64(8 << 20)),
        ])
    func memorySizes(text: String, bytes: Int64) throws {
        #expect(try MemorySize(parsing: text, flag: "--memory").bytes == bytes)
    }

    @Test("bad memory values are refused naming --memory", arguments: ["0", "-1m", "64x", "m", "", "1.2.3g", "abc", "4m", "1048576"])
    func badMemory(text: String) throws {
        let m = try #require(message(ContainerSpec(image: "busybox", memory: text.isEmpty ? " " : text)))
        #expect(m.contains("--memory"))
        #expect(m.contains("\"\(text.isEmpty ? " " : text)\""))
    }

    @Test("memory below 6 MiB is refused like Docker")
    func memoryMinimum() throws {
        let m = try #require(message(ContainerSpec(image: "busybox", memory: "5m")))
        #expect(m == "invalid --memory \"5m\": the minimum memory limit is 6m (6 MiB)")
        #expect(try ContainerOptions(validating: ContainerSpec(image: "busybox", memory: "6m")).memory?.bytes == 6 << 20)
    }

    @Test("--cpus becomes a CFS quota per 100 ms period")
    func cpus() throws {
        let options = try ContainerOptions(validating: ContainerSpec(image: "busybox", cpus: 0.5))
        #expect(options.cpus?.quota == 50_000)
        #expect(CPULimit.period == 100_000)
        for bad in [0.0, -1, 0.001, Double(ProcessInfo.processInfo.activeProcessorCount + 1), .nan] {
            let m = try #require(message(ContainerSpec(image: "busybox", cpus: bad)))
            #expect(m.contains("--cpus"))
        }
    }

    @Test("--pids-limit: positive, 0 and -1 mean unlimited, other negatives refused")
    func pidsLimit() throws {
        #expect(try ContainerOptions(validating: ContainerSpec(image: "busybox", pidsLimit: 20)).pidsLimit == 20)
        #expect(try ContainerOptions(validating: ContainerSpec(image: "busybox", pidsLimit: 0)).pidsLimit == nil)
        #expect(try ContainerOptions(validating: ContainerSpec(image: "busybox", pidsLimit: -1)).pidsLimit == nil)
        let m = try #require(message(ContainerSpec(image: "busybox", pidsLimit: -5)))
        #expect(m.contains("--pids-limit") && m.contains("\"-5\""))
    }

    @Test("volumes: host path must exist, container path absolute, mode ro or rw")
    func volumes() throws {
        let dir = try TestSupport.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ok = try ContainerOptions(validating: ContainerSpec(image: "busybox", volumes: ["\(dir.path):/data:ro", "\(dir.path)/:/other"]))
        #expect(
            ok.volumes == [
                BindMount(source: dir.path, destination: "/data", readOnly: true),
                BindMount(source: dir.path, destination: "/other", readOnly: false),
            ])

        let missing = try #require(message(ContainerSpec(image: "busybox", volumes: ["\(dir.path)/nope:/data"])))
        #expect(missing == "--volume: host path \(dir.path)/nope does not exist; create it first or fix the path")
        for bad in ["\(dir.path):data", "named:/data", "\(dir.path):/data:rx", "\(dir.path)", "\(dir.path):/", "\(dir.path):/a/../b"] {
            let m = try #require(message(ContainerSpec(image: "busybox", volumes: [bad])), "\(bad) was accepted")
            #expect(m.contains("--volume") && m.contains(bad), "\(m)")
        }
        let dup = try #require(message(ContainerSpec(image: "busybox", volumes: ["\(dir.path):/data", "\(dir.path):/data"])))
        #expect(dup.contains("--volume") && dup.contains("/data"))
    }

    @Test("a missing device is refused with a clear message")
    func missingDevice() throws {
        let m = try #require(message(ContainerSpec(image: "busybox", devices: ["/dev/gpiochip9"])))
        #expect(m == "device /dev/gpiochip9 does not exist on this node")
    }

    @Test("devices: char and block nodes are looked up; other files and bad syntax refused")
    func devices() throws {
        let null = try DeviceMapping(resolving: DeviceRequest(parsing: "/dev/null:/dev/sensor:rw"))
        #expect(null.kind == .character && null.major == 1 && null.minor == 3)
        #expect(null.containerPath == "/dev/sensor" && null.permissions == "rw")
        let defaults = try DeviceMapping(resolving: DeviceRequest(parsing: "/dev/zero"))
        #expect(defaults.containerPath == "/dev/zero" && defaults.permissions == "rwm")
        let permsOnly = try DeviceMapping(resolving: DeviceRequest(parsing: "/dev/zero:r"))
        #expect(permsOnly.containerPath == "/dev/zero" && permsOnly.permissions == "r")

        let notDevice = try #require(message(ContainerSpec(image: "busybox", devices: ["/etc/hostname"])))
        #expect(notDevice.contains("--device /etc/hostname") && notDevice.contains("not a character or block device"))
        for bad in ["/dev/null:/dev/x:rwx", "/dev/null:/dev/x:rr", "dev/null", "/dev/null:relative:r", "/dev/null:/dev/x:r:extra"] {
            let m = try #require(message(ContainerSpec(image: "busybox", devices: [bad])), "\(bad) was accepted")
            #expect(m.contains("--device") && m.contains(bad), "\(m)")
        }
    }

    @Test("ports: [IP:]HOST:CONTAINER[/proto]")
    func ports() throws {
        #expect(try PortMapping(parsing: "8080:80") == PortMapping(hostPort: 8080, containerPort: 80, transport: .tcp))
        #expect(
            try PortMapping(parsing: "127.0.0.1:5683:5683/udp")
                == PortMapping(hostIP: "127.0.0.1", hostPort: 5683, containerPort: 5683, transport: .udp))
        for bad in ["80", "0:80", "70000:80", "8080:80/sctp", "a:80", "1.2.3:80:80", "::1:80:80", "8000-8010:80"] {
            let m = try #require(message(ContainerSpec(image: "busybox", publish: [bad])), "\(bad) was accepted")
            #expect(m.contains("--publish") && m.contains(bad), "\(m)")
        }
        let hostMode = try #require(message(ContainerSpec(image: "busybox", network: "host", publish: ["8080:80"])))
        #expect(hostMode.contains("--publish needs --network bridge"))
        let twice = try #require(message(ContainerSpec(image: "busybox", publish: ["8080:80", "8080:81"])))
        #expect(twice.contains("--publish") && twice.contains("8080"))
    }

    @Test("capabilities: with or without CAP_, any case, ALL; unknown names refused")
    func capabilities() throws {
        let options = try ContainerOptions(validating: ContainerSpec(image: "busybox", capAdd: ["NET_ADMIN", "cap_sys_time"], capDrop: ["all"]))
        #expect(options.capAdd == ["CAP_NET_ADMIN", "CAP_SYS_TIME"])
        #expect(options.capDrop == ["ALL"])
        let add = try #require(message(ContainerSpec(image: "busybox", capAdd: ["NET_FOO"])))
        #expect(add.contains("--cap-add") && add.contains("NET_FOO"))
        let drop = try #require(message(ContainerSpec(image: "busybox", capDrop: ["CAP_BOGUS"])))
        #expect(drop.contains("--cap-drop") && drop.contains("CAP_BOGUS"))
    }

    @Test("user syntax: name, uid, name:group, uid:gid")
    func userSyntax() throws {
        #expect(try UserSpec(parsing: "app") == UserSpec(user: "app"))
        #expect(try UserSpec(parsing: "1000:50") == UserSpec(user: "1000", group: "50"))
        #expect(try UserSpec(parsing: "app:audio") == UserSpec(user: "app", group: "audio"))
        for bad in ["a:b:c", ":1", "1:", "us er", "-1", "4294967296"] {
            let m = try #require(message(ContainerSpec(image: "busybox", user: bad)), "\(bad) was accepted")
            #expect(m.contains("--user") && m.contains(bad), "\(m)")
        }
    }

    @Test("network modes")
    func network() throws {
        #expect(try ContainerOptions(validating: ContainerSpec(image: "busybox")).network == .bridge)
        #expect(try ContainerOptions(validating: ContainerSpec(image: "busybox", network: "host")).network == .host)
        #expect(try ContainerOptions(validating: ContainerSpec(image: "busybox", network: "none")).network == .none)
        let m = try #require(message(ContainerSpec(image: "busybox", network: "overlay")))
        #expect(m == "invalid --network \"overlay\": expected bridge, host or none")
    }

    @Test(
        "signals by name, short name and number",
        arguments: [
            ("SIGTERM", Int32(15)), ("TERM", 15), ("15", 15), ("sigkill", 9), ("HUP", 1), ("SIGUSR1", 10), ("RTMIN+2", 36),
            ("SIGRTMAX", 64),
        ])
    func signals(text: String, number: Int32) throws {
        #expect(try Signal(parsing: text).number == number)
    }

    @Test("bad signals are refused naming --stop-signal", arguments: ["SIGFOO", "0", "65", "", "TERM2", "RTMIN+40", "RTMIN+2147483647", "RTMAX-2147483647"])
    func badSignals(text: String) throws {
        let m = try #require(message(ContainerSpec(image: "busybox", stopSignal: text.isEmpty ? "-" : text)))
        #expect(m.contains("--stop-signal"))
        #expect(Signal.term.description == "SIGTERM")
    }

    @Test("env, workdir and hostname are checked")
    func envWorkdirHostname() throws {
        let env = try #require(message(ContainerSpec(image: "busybox", env: ["NOEQUALS"])))
        #expect(env.contains("--env") && env.contains("NOEQUALS"))
        let empty = try #require(message(ContainerSpec(image: "busybox", env: ["=value"])))
        #expect(empty.contains("--env"))
        let workdir = try #require(message(ContainerSpec(image: "busybox", workdir: "relative/dir")))
        #expect(workdir.contains("--workdir") && workdir.contains("relative/dir"))
        let hostname = try #require(message(ContainerSpec(image: "busybox", hostname: "-bad")))
        #expect(hostname.contains("--hostname") && hostname.contains("-bad"))
        #expect(try ContainerOptions(validating: ContainerSpec(image: "busybox", env: ["A=1", "B="], hostname: "gw-1.local")).hostname == "gw-1.local")
    }

    @Test("log rotation settings")
    func logSettings() throws {
        let m = try #require(message(ContainerSpec(image: "busybox", logMaxFiles: 0)))
        #expect(m.contains("max-file"))
        let s = try #require(message(ContainerSpec(image: "busybox", logMaxSize: -1)))
        #expect(s.contains("max-size"))
    }
}

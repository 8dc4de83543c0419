import Foundation
import Testing

@testable import PierSpec

@Suite struct ContainerSpecTests {
    @Test func aMinimalSpecIsValidAndGetsTheDefaults() throws {
        let options = try ContainerSpec(image: "busybox").validate()
        #expect(options.pidsLimit == ContainerOptions.defaultPidsLimit)
        #expect(options.network == .bridge)
        #expect(options.security == SecurityOptions())
    }

    @Test(arguments: [
        ("busybox", true), ("registry.local:5000/acme/sensor:1.2", true), ("alpine@sha256:" + String(repeating: "a", count: 64), true),
        ("sha256:" + String(repeating: "b", count: 64), true), ("3f2a", true), ("", false), ("nginx:", false),
        ("a b", false), (String(repeating: "x", count: 600), false),
    ] as [(String, Bool)])
    func imageReferences(image: String, valid: Bool) {
        let result = Result { try ContainerSpec(image: image).validate() }
        if valid {
            #expect(throws: Never.self) { try result.get() }
        } else {
            #expect { try result.get() } throws: { "\($0)".contains("IMAGE") }
        }
    }

    @Test func namesFollowTheOneRule() {
        for good in ["web", "web-1", "a_b", "x.y.z", "9lives", String(repeating: "n", count: 128)] {
            #expect(ObjectName.isValid(good, .container), "\(good)")
        }
        for bad in ["", "-web", "web-", ".x", "x y", "wéb", "a/b", String(repeating: "n", count: 129)] {
            #expect(!ObjectName.isValid(bad, .container), "\(bad)")
        }
        // Service, stack and node names are DNS labels: no dots, at most 63.
        #expect(ObjectName.isValid("web_1", .label))
        #expect(!ObjectName.isValid("web.1", .label))
        #expect(!ObjectName.isValid(String(repeating: "s", count: 64), .label))
        #expect(ObjectName.problem(String(repeating: "s", count: 64), .label)?.contains("longer than 63") == true)
    }

    /// Every numeric field has a range, and the error names the field and the limit.
    @Test func everyNumberHasARangeNamedInTheError() {
        let cases: [(String, (inout ContainerSpec) -> Void)] = [
            ("--pids-limit", { $0.pidsLimit = Int.max }),
            ("--pids-limit", { $0.pidsLimit = Int.min }),
            ("--cpus", { $0.cpus = .nan }),
            ("--cpus", { $0.cpus = -.infinity }),
            ("--cpus", { $0.cpus = Double(CPULimit.maxCPUs) + 1 }),
            ("--memory", { $0.memory = "5m" }),
            ("--memory", { $0.memory = String(repeating: "9", count: 400) }),
            ("max-size", { $0.logMaxSize = Int.max }),
            ("max-file", { $0.logMaxFiles = Int.max }),
            ("health", { $0.health = HealthCheckConfig(command: ["true"], intervalSeconds: .infinity) }),
            ("health", { $0.health = HealthCheckConfig(command: ["true"], startPeriodSeconds: .nan) }),
            ("--restart", { $0.restart = "on-failure:10001" }),
            ("--ulimit", { $0.ulimits = ["nofile=-5"] }),
            ("--label", { $0.labels = Dictionary(uniqueKeysWithValues: (0..<5000).map { ("k\($0)", "v") }) }),
            ("COMMAND", { $0.command = [String(repeating: "c", count: 2 << 20)] }),
            ("--env", { $0.env = ["A=\u{0}"] }),
        ]
        for (field, change) in cases {
            var spec = ContainerSpec(image: "busybox")
            change(&spec)
            let s = spec
            #expect("\(field)") { try s.validate() } throws: { "\($0)".contains(field) }
        }
    }

    @Test func theHostIsNotLookedAt() throws {
        // A manager validates specs for other nodes: a device or bind source it lacks is fine here.
        let spec = ContainerSpec(image: "busybox", volumes: ["/nonexistent/pier:/data"], devices: ["/dev/pier-nonexistent"], cpus: 512)
        let options = try spec.validate()
        #expect(options.devices == [DeviceRequest(hostPath: "/dev/pier-nonexistent", containerPath: "/dev/pier-nonexistent")])
    }

    @Test func oneDurationParser() {
        #expect(GoDuration.seconds("1m30s") == 90)
        #expect(GoDuration.seconds("500ms") == 0.5)
        #expect(GoDuration.seconds("-5s") == -5)
        for bad in ["", "10", "1e400s", String(repeating: "9", count: 400) + "h", "1..5s", "5 s"] {
            #expect(GoDuration.seconds(bad) == nil, "\(bad)")
        }
    }
}

import Foundation
import PierCluster
import PierSpec
import Testing

@testable import PierClient

/// Absurd flag values are refused by the CLI with the model's message before any request is
/// made: the same checks the agent and the manager make.
@Suite struct HostileFlagsTests {
    static let runCases: [(String, @Sendable (inout RunOptions) -> Void)] = [
        ("--pids-limit", { $0.pidsLimit = Int.max }),
        ("--cpus", { $0.cpus = .nan }),
        ("--cpus", { $0.cpus = .infinity }),
        ("--cpus", { $0.cpus = 1e300 }),
        ("--memory", { $0.memory = "1e309" }),
        ("--memory", { $0.memory = "99999999999999p" }),
        ("--shm-size", { $0.shmSize = "-1" }),
        ("interval", { $0.healthCmd = "true"; $0.healthInterval = "100000000000h" }),
        ("interval", { $0.healthCmd = "true"; $0.healthInterval = "1ns" }),
        ("retries", { $0.healthCmd = "true"; $0.healthRetries = Int.max }),
        ("--restart", { $0.restart = "on-failure:9223372036854775807" }),
        ("--name", { $0.name = "" }),
        ("--name", { $0.name = String(repeating: "n", count: 100_000) }),
        ("IMAGE", { $0.image = String(repeating: "i", count: 100_000) }),
        ("--env", { $0.env = Array(repeating: "K=V", count: 5000) }),
        ("max-size", { $0.logOpts = ["max-size=9999999999999p"] }),
    ]

    @Test(arguments: Array(0..<runCases.count))
    func runRefuses(index: Int) {
        let (names, change) = Self.runCases[index]
        var options = RunOptions(image: "busybox")
        change(&options)
        let run = options
        #expect {
            _ = try run.makeRequest(environment: [:], readFile: { _ in "" })
        } throws: { error in
            "\(error)".contains(names)
        }
    }

    @Test func serviceCreateRefuses() {
        let cases: [(String, (inout ServiceCreateOptions) -> Void)] = [
            ("replicas", { $0.settings.replicas = Int.max }),
            ("replicas", { $0.settings.replicas = -1 }),
            ("max-replicas-per-node", { $0.settings.maxReplicasPerNode = Int.max }),
            ("--pids-limit", { $0.settings.limitPids = Int.max }),
            ("--cpus", { $0.settings.limitCPU = 1e300 }),
            ("--reserve-cpu", { $0.settings.reserveCPU = .infinity }),
            ("retries", { $0.settings.healthCmd = "true"; $0.settings.healthRetries = Int.max }),
            ("name", { $0.name = String(repeating: "s", count: 1000) }),
        ]
        for (names, change) in cases {
            var options = ServiceCreateOptions(image: "busybox")
            change(&options)
            let create = options
            #expect("\(names)") {
                _ = try create.makeSpec(environment: [:], readFile: { _ in "" })
            } throws: { error in
                "\(error)".contains(names)
            }
        }
        #expect(throws: Never.self) { _ = try ServiceCreateOptions(image: "busybox").makeSpec(environment: [:], readFile: { _ in "" }) }
    }
}

import PierSpec
import Testing

@testable import PierStack

/// Absurd values in a compose file are problems naming their path, like any other: the same
/// model checks as `pier run` and the manager's API, before a stack is deployed.
@Suite struct HostileComposeTests {
    static let cases: [(yaml: String, path: String)] = [
        ("deploy: {replicas: 9223372036854775807}", "replicas"),
        ("deploy: {replicas: -1}", "replicas"),
        ("deploy: {replicas: 10001}", "replicas"),
        ("deploy: {resources: {limits: {cpus: '1e309'}}}", "cpus"),
        ("deploy: {resources: {limits: {cpus: '0'}}}", "cpus"),
        ("deploy: {resources: {limits: {memory: 99999999999999p}}}", "memory"),
        ("deploy: {resources: {limits: {pids: 9223372036854775807}}}", "pids"),
        ("deploy: {restart_policy: {delay: 100000000000h}}", "delay"),
        ("deploy: {restart_policy: {max_attempts: 9223372036854775807}}", "max"),
        ("deploy: {update_config: {parallelism: 9223372036854775807}}", "parallelism"),
        ("healthcheck: {test: [CMD, 'true'], interval: 100000000000h}", "interval"),
        ("healthcheck: {test: [CMD, 'true'], interval: 1ns}", "interval"),
        ("healthcheck: {test: [CMD, 'true'], retries: 9223372036854775807}", "retries"),
        ("healthcheck: {test: [CMD, 'true'], timeout: '-1s'}", "timeout"),
        ("shm_size: 1e309", "shm"),
        ("container_name: ''", "name"),
        ("ulimits: {nofile: 18446744073709551616}", "ulimit"),
    ]

    @Test(arguments: Array(0..<cases.count))
    func refusedNamingThePath(index: Int) {
        let (fragment, path) = Self.cases[index]
        let yaml = "services:\n  web:\n    image: busybox\n    \(fragment)\n"
        #expect {
            _ = try ComposeFile.parse(yaml: yaml, directory: "/", environment: [:])
        } throws: { error in
            let text = "\(error)"
            return text.contains("services.web") && text.lowercased().contains(path)
        }
    }

    @Test func hugeNamesAndImagesAreRefused() {
        for yaml in [
            "services:\n  \(String(repeating: "s", count: 10_000)):\n    image: busybox\n",
            "services:\n  web:\n    image: \(String(repeating: "i", count: 100_000))\n",
            "services:\n  web:\n    image: ''\n",
        ] {
            #expect(throws: StackError.self) { _ = try ComposeFile.parse(yaml: yaml, directory: "/", environment: [:]) }
        }
        #expect(throws: Never.self) { _ = try ComposeFile.parse(yaml: "services:\n  web:\n    image: busybox\n", directory: "/") }
    }
}

import Foundation
import Testing

/// A compose stack with `security_opt`, `tmpfs`, `ulimits`, `privileged` and `userns_mode`,
/// deployed through a manager onto a real agent; each task reports from inside what it got.
@Suite(.serialized, .integrationHost, .timeLimit(.minutes(10)))
struct StackIsolationTests {
    @Test func composeIsolationKeysDeployAndAreEnforced() throws {
        let cluster = try TestCluster.start(agents: 1)
        defer { cluster.tearDown() }
        let dir = cluster.root.appendingPathComponent("stack")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#
            .write(to: dir.appendingPathComponent("profile.json"), atomically: true, encoding: .utf8)
        let report = "trap 'exit 0' TERM; while true; do sleep 1; done"
        try """
            services:
              confined:
                image: \(TestCluster.image)
                network_mode: none
                command: ["sh", "-c", "busybox grep -E 'Seccomp:|NoNewPrivs:' /proc/self/status; busybox mkdir /tmp/x 2>&1 || true; busybox grep ' /scratch ' /proc/mounts | busybox cut -d' ' -f3; echo nofile $$(ulimit -n); echo map $$(cat /proc/self/uid_map); \(report)"]
                security_opt: ["no-new-privileges:true", "seccomp:profile.json"]
                tmpfs: /scratch:size=1m
                ulimits:
                  nofile: {soft: 100, hard: 200}
                userns_mode: remap
              admin:
                image: \(TestCluster.image)
                network_mode: none
                command: ["sh", "-c", "busybox grep Seccomp: /proc/self/status; echo map $$(cat /proc/self/uid_map); \(report)"]
                privileged: true
            """.write(to: dir.appendingPathComponent("compose.yml"), atomically: true, encoding: .utf8)
        try cluster.ok("stack", "deploy", "-c", dir.appendingPathComponent("compose.yml").path, "iso")

        func logs(_ service: String, containing needles: [String]) -> [String] {
            var lines: [String] = []
            _ = cluster.waitUntil(30, every: 0.2) {
                lines = try cluster.pier("service", "logs", service).stdout.split(separator: "\n")
                    .map { String($0.split(separator: "|", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) }
                return needles.allSatisfy { needle in lines.contains { $0.contains(needle) } }
            }
            return lines
        }
        let confined = logs("iso_confined", containing: ["Seccomp:", "nofile", "map"])
        #expect(confined.contains { $0.hasPrefix("Seccomp:") && $0.hasSuffix("2") }, "\(confined)\n\(cluster.describe("iso_confined"))")
        #expect(confined.contains { $0.hasPrefix("NoNewPrivs:") && $0.hasSuffix("1") }, "\(confined)")
        #expect(confined.contains { $0.contains("Permission denied") }, "the profile's mkdir rule: \(confined)")
        #expect(confined.contains("tmpfs"), "\(confined)")
        #expect(confined.contains("nofile 100"), "\(confined)")
        let map = confined.first { $0.hasPrefix("map ") }?.split(separator: " ").map(String.init) ?? []
        #expect(map.count == 4 && map[1] == "0" && map[2] != "0" && map[3] == "65536", "remapped: \(confined)")

        let admin = logs("iso_admin", containing: ["Seccomp:", "map"])
        #expect(admin.contains { $0.hasPrefix("Seccomp:") && $0.hasSuffix("0") }, "privileged: no filter: \(admin)")
        #expect(admin.contains("map 0 0 4294967295"), "privileged stays in the host's user namespace: \(admin)")
    }
}

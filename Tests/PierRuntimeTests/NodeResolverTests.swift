import PierTestSupport
import Foundation
import Testing

@testable import PierRuntime

/// The node's resolver: dnsmasq's arguments, upstreams from resolv.conf, the record files, and a
/// real dnsmasq on a loopback address, restarted when killed and stopped when cancelled.
@Suite struct NodeResolverTests {
    func temporaryDirectory() throws -> URL {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-resolver-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func upstreamsComeFromResolvConfNameserverLines() {
        let text = """
            # comment
            nameserver 10.255.255.53
            nameserver 127.0.0.53
            nameserver fe80::1%eth0
            nameserver 2001:db8::1
            search example.com
            nameserver not-an-address
            options ndots:1
            """
        #expect(NodeResolver.upstreams(fromResolvConf: text) == ["10.255.255.53", "127.0.0.53", "2001:db8::1"])
    }

    @Test func upstreamFlagValuesAreChecked() {
        #expect(NodeResolver.upstreamProblem("1.1.1.1") == nil)
        #expect(NodeResolver.upstreamProblem("127.0.0.1#5353") == nil)
        #expect(NodeResolver.upstreamProblem("2001:db8::1#53") == nil)
        #expect(NodeResolver.upstreamProblem("dns.example") != nil)
        #expect(NodeResolver.upstreamProblem("1.1.1.1#0")?.contains("1…65535") == true)
        #expect(NodeResolver.upstreamProblem("1.1.1.1#53#1") != nil)
        #expect(NodeResolver.upstreamProblem("1.1.1.1 --conf-file=/etc/shadow") != nil)
    }

    @Test func argumentsBindOnlyTheGatewayAndAnswerTheZoneLocally() {
        let resolver = NodeResolver(configuration: .init(directory: URL(fileURLWithPath: "/var/lib/pier/dns")), log: { _ in })
        let args = resolver.arguments(address: "10.89.3.1", upstreams: ["10.255.255.53", "127.0.0.1#5353"])
        #expect(args.contains("--listen-address=10.89.3.1"))
        #expect(args.contains("--bind-dynamic"))
        #expect(args.contains("--hostsdir=/var/lib/pier/dns/hosts"))
        #expect(args.contains("--local=/pier/"))
        #expect(args.contains("--no-resolv") && args.contains("--no-hosts") && args.contains("--keep-in-foreground"))
        #expect(args.suffix(2) == ["--server=10.255.255.53", "--server=127.0.0.1#5353"])
    }

    @Test func recordFilesAreWrittenWhenChangedAndRemovedWhenGone() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let resolver = NodeResolver(configuration: .init(directory: dir), log: { _ in })
        let hosts = resolver.configuration.hostsDirectory
        try resolver.write(["service-a": "10.0.0.2 a.pier\n", "service-b": "10.0.0.3 b.pier\n"])
        #expect(try String(contentsOf: hosts.appendingPathComponent("service-a"), encoding: .utf8) == "10.0.0.2 a.pier\n")
        try resolver.write(["service-a": "10.0.0.4 a.pier\n"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: hosts.path) == ["service-a"], "no temporary files left, b removed")
        #expect(try String(contentsOf: hosts.appendingPathComponent("service-a"), encoding: .utf8) == "10.0.0.4 a.pier\n")
        // A vanished directory is made again.
        try FileManager.default.removeItem(at: hosts)
        try resolver.write(["service-c": "10.0.0.5 c.pier\n"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: hosts.path) == ["service-c"])
    }

    @Test(.requires(Requirement.isRoot && Requirement.executable("/usr/sbin/dnsmasq") && Requirement.executable("/bin/busybox"), "root, dnsmasq-base and busybox"),
          .timeLimit(.minutes(1)))
    func aRealDnsmasqIsRestartedWhenKilledAndStoppedWhenCancelled() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let address = "127.77.\(Int.random(in: 1...254)).\(Int.random(in: 1...254))"
        let resolver = NodeResolver(configuration: .init(directory: dir, upstreams: []), log: { _ in })
        try resolver.write(["service-s1": "10.0.0.7 web.shop.pier tasks.web.shop.pier\n"])
        let supervisor = Task { await resolver.supervise(address: { address }, interval: .milliseconds(50)) }
        defer { supervisor.cancel(); resolver.stop() }

        func answer(_ name: String) throws -> String {
            let r = try TestProcess.run("/bin/busybox", ["nslookup", name, address], environment: [:], timeout: 5)
            return String(decoding: r.stdout, as: UTF8.self)
        }
        func pid() -> Int32? {
            (try? String(contentsOf: dir.appendingPathComponent("dnsmasq.pid"), encoding: .utf8))
                .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        func poll(_ seconds: Double, _ condition: () throws -> Bool) async -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if (try? condition()) == true { return true }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return false
        }
        #expect(await poll(10) { try answer("web.shop.pier").contains("10.0.0.7") })
        #expect(try answer("db.shop.pier").contains("NXDOMAIN"), "the zone is answered locally")
        // A record change is served without a restart.
        try resolver.write(["service-s1": "10.0.0.8 web.shop.pier\n"])
        #expect(await poll(2) { try answer("web.shop.pier").contains("10.0.0.8") })

        let first = try #require(pid())
        kill(first, SIGKILL)
        #expect(await poll(10) {
            guard let now = pid(), now != first else { return false }
            return try answer("web.shop.pier").contains("10.0.0.8")
        }, "restarted after SIGKILL")

        // The record directory removed, then written again before the supervisor looked: the
        // new directory is watched (dnsmasq is restarted on it).
        try FileManager.default.removeItem(at: resolver.configuration.hostsDirectory)
        try resolver.write(["service-s1": "10.0.0.9 web.shop.pier\n"])
        #expect(await poll(10) { try answer("web.shop.pier").contains("10.0.0.9") }, "records in a recreated directory are served")
        let second = try #require(pid())

        supervisor.cancel()
        #expect(await poll(5) { kill(second, 0) != 0 }, "dnsmasq \(second) still runs after the supervisor was cancelled")
    }
}

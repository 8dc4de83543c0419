import Foundation
import Testing

/// Service names end to end: a manager, one agent in its namespace running its dnsmasq on the
/// bridge's gateway, a second dnsmasq on the agent's loopback as the upstream name server, and
/// busybox containers resolving from inside.
@Suite(.serialized, .integrationHost, .timeLimit(.minutes(10)))
struct ServiceNameTests {
    static let upstreamPort = 5353

    @Test func stackServicesResolveByNameAndStoppedTasksLeaveTheirNames() throws {
        let cluster = try TestCluster.start(agents: 1, agentArguments: ["--dns-upstream", "127.0.0.1#\(Self.upstreamPort)"])
        defer { cluster.tearDown() }
        let node = try cluster.member("node-a")

        // The upstream: answers upstream.test itself, forwards nothing. Started as a daemon: a
        // dnsmasq in the foreground closes the descriptor Foundation's Process watches, which then
        // blocks waiting for it.
        let upstreamPid = cluster.root.appendingPathComponent("upstream.pid")
        let started = try runProcess("/usr/bin/nsenter", [
            "--net=/var/run/netns/\(node.namespace)", "--", "/usr/sbin/dnsmasq", "--conf-file=/dev/null",
            "--bind-interfaces", "--listen-address=127.0.0.1", "--port=\(Self.upstreamPort)", "--no-resolv", "--no-hosts",
            "--address=/upstream.test/192.0.2.7", "--user=root", "--pid-file=\(upstreamPid.path)",
        ], timeout: 20)
        #expect(started.status == 0, "upstream dnsmasq: \(started.stderr)")
        defer {
            if let text = try? String(contentsOf: upstreamPid, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 {
                kill(pid, SIGKILL)
            }
        }

        let dir = cluster.root.appendingPathComponent("names")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let idle = #"["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]"#
        try """
            services:
              web:
                image: \(TestCluster.image)
                command: ["sh", "-c", "busybox mkdir -p /www && echo hello-web > /www/index.html && exec busybox httpd -f -p 8080 -h /www"]
                networks:
                  default:
                    aliases: [www]
              client:
                image: \(TestCluster.image)
                command: \(idle)
            """.write(to: dir.appendingPathComponent("shop.yml"), atomically: true, encoding: .utf8)
        try """
            networks:
              default: {}
            services:
              db:
                image: \(TestCluster.image)
                command: \(idle)
                deploy:
                  endpoint_mode: dnsrr
            """.write(to: dir.appendingPathComponent("other.yml"), atomically: true, encoding: .utf8)
        try cluster.ok("stack", "deploy", "-c", dir.appendingPathComponent("shop.yml").path, "shop")
        try cluster.ok("stack", "deploy", "-c", dir.appendingPathComponent("other.yml").path, "other")
        try cluster.ok(["service", "create", "--name", "solo", TestCluster.image, "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"])
        let services = ["shop_web", "shop_client", "other_db", "solo"]
        let up = cluster.waitUntil(60, every: 0.2) { try services.allSatisfy { try cluster.running($0).count == 1 } }
        #expect(up, "\(services.map(cluster.describe).joined(separator: "\n"))")

        let client = try #require(try containerID(of: "shop_client", on: node, in: cluster))
        /// The address `name` resolves to inside the client (busybox ping prints it before sending), or nil.
        func resolve(_ name: String) throws -> String? {
            let r = try cluster.agentPier(node, ["exec", client, "busybox", "ping", "-c", "1", "-W", "1", name])
            guard let line = r.stdout.split(separator: "\n").first(where: { $0.hasPrefix("PING ") }),
                let open = line.firstIndex(of: "("), let close = line.firstIndex(of: ")")
            else { return nil }
            return String(line[line.index(after: open)..<close])
        }
        // The records arrive with the tasks' reports: wait for the first name, then expect the rest.
        var web: String?
        cluster.waitUntil(15, every: 0.2) {
            web = try resolve("web")
            return web != nil
        }
        let address = try #require(web, "web does not resolve in the stack; agent log:\n\(cluster.log(cluster.agentLog(node)))")
        // The container's resolv.conf names the resolver (the bridge's gateway, on the node's
        // leased subnet) and the stack's zone first.
        let resolv = try cluster.agentPier(node, ["exec", client, "cat", "/etc/resolv.conf"]).stdout
        let lines = resolv.split(separator: "\n").map(String.init)
        #expect(lines.count == 3 && lines.dropFirst() == ["search shop.pier pier", "options ndots:2"], "\(resolv)")
        let gateway = try #require(lines.first?.hasPrefix("nameserver ") == true ? String(lines[0].dropFirst("nameserver ".count)) : nil, "\(resolv)")
        #expect(gateway.hasSuffix(".1"))
        #expect(address.hasPrefix(String(gateway.dropLast(1))), "web resolved to \(address), outside the subnet of the gateway \(gateway)")
        #expect(try resolve("tasks.web") == address)
        #expect(try resolve("shop_web") == address)
        #expect(try resolve("www") == address, "the compose alias")
        #expect(try resolve("client") != nil)
        #expect(try resolve("solo") != nil, "a service without a stack resolves by its name")
        #expect(try resolve("db") == nil, "another stack's short name must not resolve")
        #expect(try resolve("other_db") != nil, "another stack's service by its full name")
        // Real traffic to the name.
        let page = try cluster.agentPier(node, ["exec", client, "sh", "-c", #"echo -e "GET / HTTP/1.0\r\n\r" | busybox nc -w 3 web 8080"#])
        #expect(page.stdout.contains("hello-web"), "GET http://web:8080/: \(page.stdout) \(page.stderr)")
        // Names outside the cluster go to the upstream server.
        let forwarded = try cluster.agentPier(node, ["exec", client, "busybox", "nslookup", "upstream.test"])
        #expect(forwarded.stdout.contains("192.0.2.7"), "forwarded name: \(forwarded.stdout) \(forwarded.stderr)")

        /// Whether the node's resolver answers `name` (asked from the node's namespace).
        func answers(_ name: String) throws -> Bool {
            let r = try runProcess("/usr/bin/nsenter", ["--net=/var/run/netns/\(node.namespace)", "--", "/bin/busybox", "nslookup", name, gateway], timeout: 10)
            return r.stdout.contains("Name:") && !r.stdout.contains("NXDOMAIN")
        }
        #expect(try answers("web.shop.pier"))

        // Scaling web to 0: the name goes when the manager stops the task, at the latest a second
        // after the stop is reported (httpd ignores SIGTERM: its container stops after the 10 s grace).
        let scaled = Date()
        try cluster.ok("service", "scale", "shop_web=0")
        var gone: Date?
        let stopped = cluster.waitUntil(30, every: 0.02) {
            if gone == nil, try !answers("web.shop.pier") { gone = Date() }
            return try cluster.tasks("shop_web").allSatisfy { $0.status.state != "running" }
        }
        #expect(stopped, "\(cluster.describe("shop_web"))")
        let reported = Date()
        if gone == nil, cluster.waitUntil(1, every: 0.02, { try !answers("web.shop.pier") }) { gone = Date() }
        let goneAt = try #require(gone, "web.shop.pier still answers 1 s after the stop was reported")
        print("names: web.shop.pier gone \(String(format: "%.0f", goneAt.timeIntervalSince(scaled) * 1000)) ms after the scale; "
            + "the stop was reported after \(String(format: "%.0f", reported.timeIntervalSince(scaled) * 1000)) ms")
        #expect(try resolve("web") == nil)
        #expect(try resolve("client") != nil, "the other names stay")

        // Manager gone and the agent killed and restarted: the stored directory is served again by
        // a new dnsmasq (the one the killed agent left is ended).
        let pidFile = node.root.appendingPathComponent("dns/dnsmasq.pid")
        let oldPid = try String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        cluster.killManager()
        cluster.kill9(node)
        try cluster.startAgent(node, token: nil)
        let restarted = cluster.waitUntil(20, every: 0.1) {
            let pid = try String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            guard pid != oldPid, !FileManager.default.fileExists(atPath: "/proc/\(oldPid)") else { return false }
            return try answers("client.shop.pier")
        }
        #expect(restarted, "after a restart without the manager: \(cluster.log(cluster.agentLog(node)))")
        #expect(try !answers("web.shop.pier"))

        // The record directory removed by hand: recreated, and the names answer again.
        try FileManager.default.removeItem(at: node.root.appendingPathComponent("dns/hosts"))
        let recreated = cluster.waitUntil(10, every: 0.1) { try answers("client.shop.pier") }
        #expect(recreated, "record directory not recreated: \(cluster.log(cluster.agentLog(node)))")
    }

    /// A name answers with the address of a task on another node (its subnet), from the
    /// directory the manager sent.
    @Test func aTaskOnAnotherNodeResolvesToItsAddressThere() throws {
        let cluster = try TestCluster.start(agents: 2)
        defer { cluster.tearDown() }
        let a = try cluster.member("node-a"), b = try cluster.member("node-b")
        let dir = cluster.root.appendingPathComponent("names")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try """
            services:
              web:
                image: \(TestCluster.image)
                command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
                deploy:
                  placement: {constraints: [node.hostname==node-b]}
              client:
                image: \(TestCluster.image)
                command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
                deploy:
                  placement: {constraints: [node.hostname==node-a]}
            """.write(to: dir.appendingPathComponent("shop.yml"), atomically: true, encoding: .utf8)
        try cluster.ok("stack", "deploy", "-c", dir.appendingPathComponent("shop.yml").path, "shop")
        let up = cluster.waitUntil(60, every: 0.2) { try ["shop_web", "shop_client"].allSatisfy { try cluster.running($0).count == 1 } }
        #expect(up, "\(cluster.describe("shop_web"))\n\(cluster.describe("shop_client"))")
        let client = try #require(try containerID(of: "shop_client", on: a, in: cluster))
        let web = try #require(try containerID(of: "shop_web", on: b, in: cluster))
        struct Details: Decodable { var ipAddress: String? }
        let inspected = try cluster.agentPier(b, ["inspect", web]).stdout
        let details = try? JSONDecoder().decode([Details].self, from: Data(inspected.utf8))
        let webAddress = try #require(details?.first?.ipAddress, "no address in: \(inspected.prefix(400))")
        let clientResolv = try cluster.agentPier(a, ["exec", client, "cat", "/etc/resolv.conf"]).stdout
        #expect(!clientResolv.contains("nameserver " + webAddress.split(separator: ".").prefix(3).joined(separator: ".") + "."),
                "node-b's task is on node-a's subnet: \(webAddress), \(clientResolv)")
        var answer = ""
        let found = cluster.waitUntil(15, every: 0.2) {
            answer = try cluster.agentPier(a, ["exec", client, "busybox", "nslookup", "web.shop.pier"]).stdout
            return answer.contains("Address: \(webAddress)")
        }
        #expect(found, "web.shop.pier from node-a does not give node-b's task \(webAddress): \(answer)")
        // Traffic between the nodes' subnets is the mesh's (MeshDataPathTests); TestCluster runs none.
    }

    /// A task whose health check fails leaves its names within a second of being reported
    /// unhealthy, and comes back when it is healthy again.
    @Test func anUnhealthyTaskLeavesItsNamesAndComesBackWhenHealthy() throws {
        let cluster = try TestCluster.start(agents: 1)
        defer { cluster.tearDown() }
        let node = try cluster.member("node-a")
        let dir = cluster.root.appendingPathComponent("names")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try """
            services:
              db:
                image: \(TestCluster.image)
                command: ["sh", "-c", "busybox touch /ok; trap 'exit 0' TERM; while true; do sleep 1; done"]
                healthcheck:
                  test: ["CMD-SHELL", "busybox test -f /ok"]
                  interval: 1s
                  timeout: 1s
                  retries: 1
            """.write(to: dir.appendingPathComponent("shop.yml"), atomically: true, encoding: .utf8)
        try cluster.ok("stack", "deploy", "-c", dir.appendingPathComponent("shop.yml").path, "shop")
        func health() throws -> String? { try cluster.running("shop_db").first?.health }
        #expect(cluster.waitUntil(60, every: 0.2) { try health() == "healthy" }, "\(cluster.describe("shop_db"))")
        let db = try #require(try containerID(of: "shop_db", on: node, in: cluster))
        let resolv = try cluster.agentPier(node, ["exec", db, "cat", "/etc/resolv.conf"]).stdout
        let gateway = try #require(resolv.split(separator: "\n").first { $0.hasPrefix("nameserver ") }.map { String($0.dropFirst(11)) })
        func answers() throws -> Bool {
            let r = try runProcess("/usr/bin/nsenter", ["--net=/var/run/netns/\(node.namespace)", "--", "/bin/busybox", "nslookup", "db.shop.pier", gateway], timeout: 10)
            return r.stdout.contains("Name:") && !r.stdout.contains("NXDOMAIN")
        }
        #expect(cluster.waitUntil(10, every: 0.1) { try answers() }, "a healthy task answers")

        try cluster.agentPier(node, ["exec", db, "busybox", "rm", "/ok"])
        #expect(cluster.waitUntil(30, every: 0.05) { try health() == "unhealthy" }, "\(cluster.describe("shop_db"))")
        #expect(cluster.waitUntil(1, every: 0.02) { try !answers() }, "db.shop.pier still answers 1 s after the task was reported unhealthy")

        try cluster.agentPier(node, ["exec", db, "busybox", "touch", "/ok"])
        #expect(cluster.waitUntil(30, every: 0.1) { try answers() }, "healthy again: the name is back")
    }

    /// The running container of a service's task on a node.
    func containerID(of service: String, on node: TestCluster.Member, in cluster: TestCluster) throws -> String? {
        struct Container: Decodable {
            var id: String
            var state: String
            var labels: [String: String]
        }
        let r = try cluster.agentPier(node, ["ps", "--format", "json"])
        let list = try JSONDecoder().decode([Container].self, from: Data(r.stdout.utf8))
        return list.first { $0.state == "running" && $0.labels["pier.service.name"] == service }?.id
    }
}

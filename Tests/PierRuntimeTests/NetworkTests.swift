import Foundation
import Testing

@testable import PierRuntime

/// Bridge networking with the real CNI plugins. Serialized: the tests share one bridge
/// (`piert0`, not the agent's `pier0`), which the last step of each test removes.
@Suite(
    "Bridge network", .serialized,
    .enabled(
        if: TestSupport.canRunContainers && FileManager.default.fileExists(atPath: "/usr/lib/cni/bridge"),
        "needs root, runc, busybox-static and the CNI plugins"))
struct NetworkTests {
    func iptablesMentions(_ id: String) throws -> Bool {
        let dump = try Subprocess.run("/usr/sbin/iptables-save", [])
        return dump.stdoutText.contains(id)
    }

    func linkExists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "/sys/class/net/\(name)")
    }

    func removeTestBridge() {
        _ = try? Subprocess.run(NetworkNamespace.locateIP(), ["link", "delete", Sandbox.testNetwork.bridge])
    }

    @Test("a bridged container gets an address, answers on its published port, and teardown removes everything")
    func bridgeWithPublishedPort() async throws {
        defer { removeTestBridge() }
        try await Sandbox.with { sandbox in
            let id = TestSupport.newID()
            try "hello from the container\n".write(
                to: sandbox.layer.appendingPathComponent("var/www/index.html"), atomically: true, encoding: .utf8)
            let hostPort = UInt16.random(in: 20000...29999)
            let options = ContainerOptions(
                command: ["httpd", "-f", "-p", "80", "-h", "/var/www"], network: .bridge,
                ports: [PortMapping(hostPort: hostPort, containerPort: 80)])
            let launched = try await sandbox.launch(id, options)
            let network = try #require(launched.network)
            #expect(network.ipAddress.hasPrefix("10.213.0.") && network.prefixLength == 24)
            #expect(network.gateway == "10.213.0.1")
            #expect(network.namespacePath == CNINetwork.namespacePath(id: id))
            #expect(FileManager.default.fileExists(atPath: network.namespacePath))
            let veth = try #require(network.hostInterface)
            #expect(linkExists(veth))
            #expect(try iptablesMentions(id))

            // The container sees its address on eth0, and the generated hosts file names it.
            let addr = Collected()
            #expect(
                try await sandbox.runtime.exec(
                    id: id, layout: sandbox.layout(id), command: ["sh", "-c", "ip -4 addr show eth0; cat /etc/hosts"],
                    output: { addr.add($0) }) == 0)
            #expect(addr.stdout.contains("inet \(network.ipAddress)/24"))
            #expect(addr.stdout.contains("\(network.ipAddress)\t\(id.prefix(12))"))

            // From the host, through the published port on the bridge's gateway address.
            var body = ""
            let answered = await TestSupport.waitUntil(timeout: .seconds(10)) {
                // (busybox 1.35's wget crashes with -T; the subprocess deadline bounds it instead.)
                let r = try? Subprocess.run(
                    "/bin/busybox", ["wget", "-q", "-O", "-", "http://10.213.0.1:\(hostPort)/index.html"],
                    timeout: .seconds(3))
                body = r?.stdoutText ?? ""
                return r?.succeeded == true
            }
            #expect(answered)
            #expect(body == "hello from the container\n")

            try await sandbox.runtime.signal(id: id, signal: .kill, all: false)
            _ = await sandbox.waitForExit(launched, id)
            #expect(await sandbox.runtime.cleanup(id: id, layout: sandbox.layout(id)).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: network.namespacePath))
            #expect(!linkExists(veth))
            #expect(try !iptablesMentions(id))
            let ipam = sandbox.root.appendingPathComponent("data/cni/ipam/\(Sandbox.testNetwork.name)/\(network.ipAddress)")
            #expect(!FileManager.default.fileExists(atPath: ipam.path))
            // Teardown is idempotent.
            #expect(await sandbox.runtime.network.tearDown(id: id).isEmpty)
        }
    }

    @Test("a setup that fails half-way is undone: namespace, veth, rules, address")
    func failedSetupIsUndone() async throws {
        defer { removeTestBridge() }
        let plugins = try TestSupport.makeTempDirectory("pier-cni-plugins")
        defer { try? FileManager.default.removeItem(at: plugins) }
        // bridge and host-local but no portmap: ADD fails at the second plugin.
        for name in ["bridge", "host-local"] {
            try FileManager.default.createSymbolicLink(
                atPath: plugins.appendingPathComponent(name).path, withDestinationPath: "/usr/lib/cni/\(name)")
        }
        var config = Sandbox.testNetwork
        config.pluginDirectories = [plugins.path]
        try await Sandbox.with(network: config) { sandbox in
            let id = TestSupport.newID()
            let error = await #expect(throws: NetworkError.self) {
                try await sandbox.runtime.network.setUp(id: id, ports: [PortMapping(hostPort: 28080, containerPort: 80)])
            }
            #expect(error == .pluginNotFound(type: "portmap", searched: [plugins.path]))
            #expect(!FileManager.default.fileExists(atPath: CNINetwork.namespacePath(id: id)))
            let mentioned = try iptablesMentions(id)
            #expect(!mentioned)
            let ipamDir = sandbox.root.appendingPathComponent("data/cni/ipam/\(config.name)")
            let reservations = (try? FileManager.default.contentsOfDirectory(atPath: ipamDir.path)) ?? []
            #expect(!reservations.contains { $0.hasPrefix("10.") }, "\(reservations)")
            let vethsWithPeers = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net/\(config.bridge)/brif")) ?? []
            #expect(vethsWithPeers.isEmpty, "\(vethsWithPeers)")
        }
    }

    @Test("the conflist is written under the data root")
    func conflist() async throws {
        try await Sandbox.with { sandbox in
            let url = sandbox.root.appendingPathComponent("data/cni/\(Sandbox.testNetwork.name).conflist")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            let plugins = try #require(json["plugins"] as? [[String: Any]])
            #expect(plugins.map { $0["type"] as? String } == ["bridge", "portmap"])
            #expect(plugins[0]["bridge"] as? String == "piert0")
            #expect(plugins[0]["isGateway"] as? Bool == true && plugins[0]["ipMasq"] as? Bool == true)
            #expect(plugins[1]["snat"] as? Bool == true)
            #expect(json["cniVersion"] as? String == "1.0.0")
        }
        #expect(throws: NetworkError.self) {
            try CNINetwork(configuration: NetworkConfiguration(subnet: "10.1.0.0"), dataRoot: URL(fileURLWithPath: "/tmp/unused"))
        }
    }
}

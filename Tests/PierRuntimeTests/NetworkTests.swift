import PierTestSupport
import PierSpec
import Foundation
import Testing

@testable import PierRuntime

/// Bridge networking with the real CNI plugins. Serialized: the tests share one bridge
/// (`piert0`, not the agent's `pier0`), which the last step of each test removes.
@Suite(
    "Bridge network", .serialized,
    .requires(
        TestSupport.canRunContainers && FileManager.default.fileExists(atPath: "/usr/lib/cni/bridge"),
        "root, runc, busybox-static and the CNI plugins"), .timeLimit(.minutes(5)))
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

    /// The tests' bridge with a pool the test fills itself (no background refill).
    func pooled(_ size: Int, refillDelay: Duration = .seconds(3600)) -> NetworkConfiguration {
        var config = Sandbox.testNetwork
        config.poolSize = size
        config.poolRefillDelay = refillDelay
        return config
    }

    func namespaceExists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: "/run/netns/\(name)") }

    func ipamReservations(_ sandbox: Sandbox) -> [String] {
        let dir = sandbox.root.appendingPathComponent("data/cni/ipam/\(Sandbox.testNetwork.name)")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasPrefix("10.") }
    }

    @Test("a pooled namespace serves a container and its published port, then goes back to the pool; with CAP_NET_ADMIN it does not")
    func pooledNamespaceIsTakenAndReturned() async throws {
        defer { removeTestBridge() }
        try await Sandbox.with(network: pooled(1)) { sandbox in
            let network = sandbox.runtime.network
            await network.fillPool()
            let namespace = try #require(network.pooledNamespaces.first)
            #expect(network.pooledNamespaces.count == 1)
            let networkID = String(namespace.dropFirst("pier-".count))  // the pool's CNI id starts so

            try "pooled\n".write(to: sandbox.layer.appendingPathComponent("var/www/index.html"), atomically: true, encoding: .utf8)
            let hostPort = UInt16.random(in: 20000...29999)
            let id = TestSupport.newID()
            let launched = try await sandbox.launch(id, ContainerOptions(
                command: ["httpd", "-f", "-p", "80", "-h", "/var/www"], network: .bridge,
                ports: [PortMapping(hostPort: hostPort, containerPort: 80)]))
            let attachment = try #require(launched.network)
            #expect(attachment.namespacePath == "/run/netns/\(namespace)")
            #expect(network.pooledNamespaces.isEmpty)
            let shown = Collected()
            #expect(try await sandbox.runtime.exec(
                id: id, layout: sandbox.layout(id), command: ["ip", "-4", "addr", "show", "eth0"], output: { shown.add($0) }) == 0)
            #expect(shown.stdout.contains("inet \(attachment.ipAddress)/24"))
            var body = ""
            let answered = await TestSupport.waitUntil(timeout: .seconds(10)) {
                let r = try? Subprocess.run(
                    "/bin/busybox", ["wget", "-q", "-O", "-", "http://10.213.0.1:\(hostPort)/index.html"], timeout: .seconds(3))
                body = r?.stdoutText ?? ""
                return r?.succeeded == true
            }
            #expect(answered && body == "pooled\n")

            try await sandbox.runtime.signal(id: id, signal: .kill, all: false)
            _ = await sandbox.waitForExit(launched, id)
            #expect(await sandbox.runtime.cleanup(id: id, layout: sandbox.layout(id)).isEmpty)
            // Back in the pool, connected as before; the port is no longer published.
            #expect(network.pooledNamespaces == [namespace])
            #expect(namespaceExists(namespace))
            #expect(!network.hasState(id: id))
            #expect(try !iptablesMentions("--dport \(hostPort)"))
            #expect(ipamReservations(sandbox) == [attachment.ipAddress])

            // A container that may reconfigure its network takes it too, but it is not returned.
            let admin = TestSupport.newID()
            let second = try await sandbox.launch(admin, ContainerOptions(command: ["sleep", "100"], network: .bridge, capAdd: ["CAP_NET_ADMIN"]))
            #expect(second.network?.namespacePath == "/run/netns/\(namespace)")
            try await sandbox.runtime.signal(id: admin, signal: .kill, all: false)
            _ = await sandbox.waitForExit(second, admin)
            #expect(await sandbox.runtime.cleanup(id: admin, layout: sandbox.layout(admin)).isEmpty)
            #expect(network.pooledNamespaces.isEmpty)
            #expect(!namespaceExists(namespace))
            #expect(try !iptablesMentions(networkID))
            #expect(ipamReservations(sandbox).isEmpty)
        }
    }

    @Test("the pool fills after the first bridge setup and stays empty once drained")
    func poolFillsAndDrains() async throws {
        defer { removeTestBridge() }
        try await Sandbox.with(network: pooled(2, refillDelay: .milliseconds(50))) { sandbox in
            let results = sandbox.root.appendingPathComponent("data/cni/results")
            let network = sandbox.runtime.network
            // Empty until a bridge container wants one; then it fills in the background.
            #expect(network.pooledNamespaces.isEmpty)
            let direct = TestSupport.newID()
            let own = try await network.setUp(id: direct, ports: [], reusable: true)
            #expect(own.namespacePath == CNINetwork.namespacePath(id: direct))
            #expect(await TestSupport.waitUntil(timeout: .seconds(20)) { network.pooledNamespaces.count == 2 })
            let filled = network.pooledNamespaces
            // A namespace of its own is not the pool's: teardown removes it.
            #expect(await network.tearDown(id: direct).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: own.namespacePath))

            // A stopping agent drains its pool: nothing is left.
            #expect(await network.drainPool().isEmpty)
            for name in filled {
                #expect(!namespaceExists(name))
                #expect(try !iptablesMentions(String(name.dropFirst("pier-".count))))
            }
            #expect(ipamReservations(sandbox).isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: results.path).isEmpty)
            // Once drained it stays empty.
            let late = TestSupport.newID()
            _ = try await network.setUp(id: late, ports: [], reusable: true)
            // A setup schedules a refill before it returns, unless the pool is closed.
            #expect(!network.refillScheduled)
            #expect(network.pooledNamespaces.isEmpty)
            #expect(await network.tearDown(id: late).isEmpty)
            #expect(ipamReservations(sandbox).isEmpty)
        }
    }

    @Test("a steady stream of bridge setups, closer together than the refill delay, does not keep the pool from filling")
    func poolFillsUnderSteadyStarts() async throws {
        defer { removeTestBridge() }
        try await Sandbox.with(network: pooled(2, refillDelay: .milliseconds(400))) { sandbox in
            let network = sandbox.runtime.network
            // Each round is a container's life on a namespace of its own (plugins' ADD and DEL,
            // ~0.1–0.2 s): a refill postponed by every take would never run.
            var rounds = 0
            let started = ContinuousClock.now
            while network.pooledNamespaces.count < 2, ContinuousClock.now - started < .seconds(20) {
                let id = TestSupport.newID()
                _ = try await network.setUp(id: id, ports: [], reusable: true)
                #expect(await network.tearDown(id: id).isEmpty)
                rounds += 1
            }
            #expect(network.pooledNamespaces.count == 2, "pool still short after \(rounds) starts")
            #expect(await network.drainPool().isEmpty)
            #expect(ipamReservations(sandbox).isEmpty)
        }
    }

    @Test("pooled namespaces survive a kill and are adopted by the next start; a restart on another subnet or with the pool off removes them")
    func poolAcrossRestarts() async throws {
        defer { removeTestBridge() }
        try await Sandbox.with { sandbox in
            let dataRoot = sandbox.root.appendingPathComponent("data")
            let results = dataRoot.appendingPathComponent("cni/results")
            let first = try CNINetwork(configuration: pooled(2), dataRoot: dataRoot)
            await first.fillPool()
            let pool = Set(first.pooledNamespaces)
            #expect(pool.count == 2)

            // A container takes one, and the agent is killed after the container's state was
            // written but before the pool's was removed: write the pool's file back.
            let id = TestSupport.newID()
            let taken = try await first.setUp(id: id, ports: [], reusable: true)
            let takenName = URL(fileURLWithPath: taken.namespacePath).lastPathComponent
            #expect(pool.contains(takenName))
            let state = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: results.appendingPathComponent("\(id).json"))) as? [String: Any])
            let networkID = try #require(state["networkID"] as? String)
            let duplicate = results.appendingPathComponent("\(networkID).json")
            try JSONSerialization.data(withJSONObject: ["namespace": takenName, "ports": [] as [Any], "result": state["result"] as Any])
                .write(to: duplicate)

            // The next agent on the data root: the container keeps its namespace, the pool the other.
            let second = try CNINetwork(configuration: pooled(2), dataRoot: dataRoot)
            #expect(await second.recoverPool().isEmpty)
            #expect(Set(second.pooledNamespaces) == pool.subtracting([takenName]))
            #expect(!FileManager.default.fileExists(atPath: duplicate.path))
            #expect(namespaceExists(takenName))
            // The container is gone: its namespace goes back.
            #expect(await second.tearDown(id: id).isEmpty)
            #expect(Set(second.pooledNamespaces) == pool)
            // Recovering again adopts nothing twice.
            #expect(await second.recoverPool().isEmpty)
            #expect(second.pooledNamespaces.count == 2)

            // A relaunch of a container whose state a kill left behind: the namespace that state
            // names is handed back (or removed) first, never forgotten.
            let relaunched = TestSupport.newID()
            let before = try await second.setUp(id: relaunched, ports: [], reusable: true)
            let again = try await second.setUp(id: relaunched, ports: [], reusable: true)
            #expect(Set(second.pooledNamespaces + [URL(fileURLWithPath: again.namespacePath).lastPathComponent]) == pool)
            #expect(pool.contains(URL(fileURLWithPath: before.namespacePath).lastPathComponent))
            #expect(await second.tearDown(id: relaunched).isEmpty)
            #expect(Set(second.pooledNamespaces) == pool)

            // Restarted on another subnet: namespaces made for the old one are removed, not adopted.
            var moved = pooled(2)
            moved.subnet = "10.214.0.0/24"
            let third = try CNINetwork(configuration: moved, dataRoot: dataRoot)
            #expect(await third.recoverPool().isEmpty)
            #expect(third.pooledNamespaces.isEmpty)
            for name in pool {
                #expect(!namespaceExists(name))
                #expect(try !iptablesMentions(String(name.dropFirst("pier-".count))))
            }
            #expect(ipamReservations(sandbox).isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: results.path).isEmpty)

            // Restarted with the pool turned off: the pooled namespaces are removed.
            let fourth = try CNINetwork(configuration: pooled(2), dataRoot: dataRoot)
            await fourth.fillPool()
            let refilled = fourth.pooledNamespaces
            #expect(refilled.count == 2)
            let fifth = try CNINetwork(configuration: pooled(0), dataRoot: dataRoot)
            #expect(await fifth.recoverPool().isEmpty)
            for name in refilled { #expect(!namespaceExists(name)) }
            #expect(ipamReservations(sandbox).isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: results.path).isEmpty)
            // (The earlier processes' refills are cancelled; what they think they hold is gone.)
            for network in [first, second, fourth] { #expect(await network.drainPool().isEmpty) }
        }
    }

    @Test("switched to a leased subnet: a container attached before keeps its address and is torn down with its own configuration; the next one gets the new subnet, the MTU and no masquerading")
    func switchToLeasedSubnet() async throws {
        defer { removeTestBridge() }
        try await Sandbox.with { sandbox in
            let network = sandbox.runtime.network
            let first = TestSupport.newID(), second = TestSupport.newID()
            do { try await switched(network, first: first, second: second, sandbox: sandbox) } catch {
                // Attachments made without a container: removed here, whatever failed.
                for id in [first, second] { await network.tearDown(id: id) }
                throw error
            }
        }
    }

    func switched(_ network: CNINetwork, first: String, second: String, sandbox: Sandbox) async throws {
        let before = try await network.setUp(id: first, ports: [])
        #expect(before.ipAddress.hasPrefix("10.213.0."))
        #expect(try iptablesMentions(first))  // the bridge plugin's masquerading

        var leased = Sandbox.testNetwork
        leased.subnet = "10.213.7.0/24"
        leased.ipMasq = false
        leased.mtu = 1400
        leased.replaceBridgeAddress = true
        try await network.reconfigure(leased)
        let after = try await network.setUp(id: second, ports: [])
        #expect(after.ipAddress.hasPrefix("10.213.7.") && after.gateway == "10.213.7.1")
        #expect(try !iptablesMentions(second))
        let veth = try #require(after.hostInterface)
        #expect(try String(contentsOfFile: "/sys/class/net/\(veth)/mtu", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "1400")

        // The first container's teardown runs with the configuration it was made with: its rules go too.
        #expect(await network.tearDown(id: first).isEmpty)
        #expect(try !iptablesMentions(first))
        #expect(!FileManager.default.fileExists(atPath: before.namespacePath))
        #expect(await network.tearDown(id: second).isEmpty)
        #expect(ipamReservations(sandbox).isEmpty)
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

import PierSpec
import Dispatch
import Foundation
import Synchronization

/// Bridge networking through the real CNI plugins (CNI spec 1.0.0), invoked directly: a
/// named network namespace per container, `bridge` (with `host-local` IPAM, gateway and
/// masquerading) and `portmap` (published ports, with SNAT for hairpin and local traffic).
///
/// Setups and teardowns run one at a time (the plugins' iptables chain creation is not safe
/// to race). Teardown is idempotent and also undoes a half-finished setup: namespace, veth,
/// iptables rules and the IPAM reservation.
///
/// With a pool (`NetworkConfiguration.poolSize` > 0), namespaces are connected ahead of need
/// under their own CNI container ids (`pool-…`), and a container takes one instead of waiting
/// for the plugins (only `portmap` runs, for published ports); its state file then names that id. When such a
/// container is gone and could not have changed its network (no CAP_NET_ADMIN or CAP_SYS_ADMIN),
/// teardown returns the namespace to the pool (after `portmap` DEL) instead of running the
/// plugins' DEL. The pool fills after the first bridge setup and refills in the background, a
/// second after a take left it short, so that it does not compete with the container starting;
/// `recoverPool` adopts what a previous process left, `drainPool` removes it.
public final class CNINetwork: Sendable {
    /// The network new containers join; `reconfigure` changes it (a node's first lease).
    public var configuration: NetworkConfiguration { current.withLock { $0.configuration } }
    /// `<dataRoot>/cni`: the conflist, cached results and IPAM state.
    public let stateDirectory: URL
    private let current: Mutex<Current>
    private let ipCommand: String
    private let iptablesCommand: String
    private let queue = DispatchQueue(label: "pier.cni")
    private let pool = Mutex(Pool())

    static let cniVersion = "1.0.0"

    /// The configuration new attachments are made with, and its conflist.
    private struct Current {
        var configuration: NetworkConfiguration
        var conflist: Data
    }

    /// Prepares the state directory and writes the conflist (`<dataRoot>/cni/<name>.conflist`).
    public init(configuration: NetworkConfiguration = NetworkConfiguration(), dataRoot: URL) throws {
        try configuration.validate()
        stateDirectory = dataRoot.appendingPathComponent("cni")
        ipCommand = NetworkNamespace.locateIP()
        iptablesCommand =
            ["/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables"]
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "iptables"
        let fm = FileManager.default
        for sub in ["results", "ipam"] { try fm.makeDirectory(stateDirectory.appendingPathComponent(sub)) }
        let conflist = try Self.conflist(for: configuration, ipamDirectory: stateDirectory.appendingPathComponent("ipam"))
        current = Mutex(Current(configuration: configuration, conflist: conflist))
        try writeConflist(conflist, name: configuration.name)
    }

    /// The CNI network configuration list: `bridge` with `host-local` IPAM, then `portmap`.
    static func conflist(for configuration: NetworkConfiguration, ipamDirectory: URL) throws -> Data {
        var bridge: [String: Any] = [
            "type": "bridge", "bridge": configuration.bridge, "isGateway": true, "ipMasq": configuration.ipMasq,
            "hairpinMode": true,
            "ipam": [
                "type": "host-local", "ranges": [[["subnet": configuration.subnet]]],
                "routes": [["dst": "0.0.0.0/0"]], "dataDir": ipamDirectory.path,
            ] as [String: Any],
        ]
        if let mtu = configuration.mtu { bridge["mtu"] = mtu }
        if configuration.replaceBridgeAddress { bridge["forceAddress"] = true }
        let list: [String: Any] = [
            "cniVersion": Self.cniVersion,
            "name": configuration.name,
            "plugins": [
                bridge,
                ["type": "portmap", "snat": true, "capabilities": ["portMappings": true]] as [String: Any],
            ],
        ]
        // No .sortedKeys: sorting makes JSONSerialization compare keys with an ICU collator,
        // which keeps ICU's collation data resident in the agent. The file is rewritten only
        // when its content changes, whatever the order of its keys.
        return try JSONSerialization.data(withJSONObject: list, options: [.prettyPrinted, .withoutEscapingSlashes])
    }

    private func writeConflist(_ conflist: Data, name: String) throws {
        let url = stateDirectory.appendingPathComponent("\(name).conflist")
        let current = (try? Data(contentsOf: url)).flatMap { try? JSONSerialization.jsonObject(with: $0) as? NSDictionary }
        let wanted = try JSONSerialization.jsonObject(with: conflist) as? NSDictionary
        if current == nil || current != wanted {
            try SystemCalls.writeAtomically(conflist, to: url)
        }
    }

    /// Switches the network new containers join to `configuration` (a node's leased subnet,
    /// without masquerading, with the mesh's MTU). Containers already attached keep their
    /// addresses, and their teardown runs with the configuration they were made with; pooled
    /// namespaces of the old one are removed. Only the subnet, `ipMasq` and `mtu` may change.
    public func reconfigure(_ configuration: NetworkConfiguration) async throws {
        try configuration.validate()
        let old = self.configuration
        guard configuration.name == old.name, configuration.bridge == old.bridge else {
            throw NetworkError.badConfiguration(
                "the bridge network's name and bridge cannot change while the agent runs (\(old.name) on \(old.bridge))")
        }
        guard configuration != old else { return }
        let conflist = try Self.conflist(for: configuration, ipamDirectory: ipamDirectory)
        try await onQueue(queue) {
            try self.writeConflist(conflist, name: configuration.name)
            self.current.withLock { $0 = Current(configuration: configuration, conflist: conflist) }
        }
        let stale = pool.withLock { p -> [PooledNamespace] in
            defer { p.ready = [] }
            return p.ready
        }
        for entry in stale { _ = try? await onQueue(queue) { self.tearDownNow(id: entry.networkID) } }
    }

    var resultsDirectory: URL { stateDirectory.appendingPathComponent("results") }
    var ipamDirectory: URL { stateDirectory.appendingPathComponent("ipam") }

    /// The container's network namespace name: `pier-` and the id's first 12 characters.
    public static func namespaceName(id: String) -> String { "pier-\(id.prefix(12))" }

    /// The container's network namespace path.
    public static func namespacePath(id: String) -> String { "\(NetworkNamespace.directory)/\(namespaceName(id: id))" }

    /// Connects the container to the bridge, publishing `ports`: a pooled namespace when one is
    /// ready (only `portmap` runs, if there are ports), else a new one through the plugins.
    /// `reusable`: the container cannot change its network (no CAP_NET_ADMIN or CAP_SYS_ADMIN),
    /// so its namespace may go back to the pool afterwards.
    /// On failure everything done so far is undone before the error is thrown.
    public func setUp(id: String, ports: [PortMapping], reusable: Bool = false) async throws -> NetworkAttachment {
        // A network a crash left recorded for this id (a relaunch interrupted by a kill): its
        // namespace may be a pooled one, which only this file names. Tear it down first.
        if hasState(id: id) { await tearDown(id: id) }
        let pooled = takeFromPool()
        defer { refillPool(after: configuration.poolRefillDelay) }
        if let pooled {
            // Without ports no plugin runs: nothing to wait for behind other setups.
            if ports.isEmpty { return try assign(pooled, to: id, ports: [], reusable: reusable) }
            return try await onQueue(queue) { try self.assign(pooled, to: id, ports: ports, reusable: reusable) }
        }
        return try await onQueue(queue) { try self.setUpNow(id: id, ports: ports).attachment }
    }

    /// Disconnects the container and removes its namespace, rules and address reservation, or
    /// returns the namespace to the pool (see `recycle`). Safe to call again, or for a container
    /// that never had a network. Returns what could not be cleaned up (empty when all is gone).
    @discardableResult
    public func tearDown(id: String) async -> [String] {
        if await recycle(id) { return [] }
        return (try? await onQueue(queue) { self.tearDownNow(id: id) }) ?? ["network teardown of \(id) did not run"]
    }

    // MARK: Setup and teardown

    /// Cached per container: what teardown needs (CNI DEL gets the ADD result as prevResult).
    struct CachedState: Codable {
        var namespace: String
        var ports: [PortMapping]
        /// The final ADD result, as JSON text; nil while the setup is in progress.
        var result: String?
        /// The CNI container id the plugins know this attachment by when it is not the
        /// container's own (a namespace taken from the pool).
        var networkID: String?
        /// The container could not change its network: the namespace may go back to the pool.
        var reusable: Bool?
        /// A pooled namespace: the bridge and subnet it is on (`poolKey`), so that a restart
        /// with other ones does not adopt it.
        var pool: String?
        /// The conflist the attachment was made with: its teardown runs with it, whatever the
        /// network was reconfigured to since (nil in files of older agents: the current one).
        var conflist: String?
    }

    /// What a pooled namespace was made for.
    private var poolKey: String { Self.poolKey(configuration) }

    static func poolKey(_ c: NetworkConfiguration) -> String {
        "\(c.bridge) \(c.subnet)" + (c.ipMasq ? "" : " nomasq") + (c.mtu.map { " mtu \($0)" } ?? "")
    }

    private func stateURL(_ id: String) -> URL { resultsDirectory.appendingPathComponent("\(id).json") }

    private func saveState(_ state: CachedState, id: String) throws {
        try SystemCalls.writeAtomically(try JSONEncoder().encode(state), to: stateURL(id))
    }

    private func readState(_ id: String) -> CachedState? {
        (try? Data(contentsOf: stateURL(id))).flatMap { try? JSONDecoder().decode(CachedState.self, from: $0) }
    }

    /// A new namespace through the plugins; its state is saved under `id` (the CNI container id).
    private func setUpNow(id: String, ports: [PortMapping]) throws -> (attachment: NetworkAttachment, result: String) {
        let namespace = NetworkNamespace(name: Self.namespaceName(id: id), ip: ipCommand)
        let now = current.withLock { $0 }
        let conflist = String(decoding: now.conflist, as: UTF8.self)
        do {
            // Written first, so a crash at any later point leaves teardown what it needs.
            try saveState(CachedState(namespace: namespace.name, ports: ports, result: nil, conflist: conflist), id: id)
            try namespace.create()
            let (_, plugins) = try parsedConflist(conflist)
            let final = try add(plugins.filter { !(isPortmap($0) && ports.isEmpty) }, networkID: id, namespacePath: namespace.path,
                                previous: nil, ports: ports)
            let attachment = try attachment(from: final, namespacePath: namespace.path)
            let text = String(decoding: try JSONSerialization.data(withJSONObject: final), as: UTF8.self)
            try saveState(CachedState(namespace: namespace.name, ports: ports, result: text,
                                      pool: id.hasPrefix(Self.poolPrefix) ? Self.poolKey(now.configuration) : nil, conflist: conflist), id: id)
            return (attachment, text)
        } catch {
            _ = tearDownNow(id: id)
            throw error
        }
    }

    /// CNI ADD through `plugins` in order, each given the previous one's result.
    private func add(
        _ plugins: [[String: Any]], networkID: String, namespacePath: String, previous: [String: Any]?, ports: [PortMapping]
    ) throws -> [String: Any] {
        var previous = previous
        for plugin in plugins {
            let output = try invoke(plugin, command: "ADD", id: networkID, namespacePath: namespacePath, prevResult: previous, ports: ports)
            guard let result = try? JSONSerialization.jsonObject(with: output) as? [String: Any] else {
                throw NetworkError.badResult(plugin: pluginType(plugin), detail: String(decoding: output.prefix(200), as: UTF8.self))
            }
            previous = result
        }
        guard let previous else { throw NetworkError.badResult(plugin: "bridge", detail: "no result") }
        return previous
    }

    /// Hands a pooled namespace to container `id`, publishing `ports` through `portmap`.
    private func assign(_ pooled: PooledNamespace, to id: String, ports: [PortMapping], reusable: Bool) throws -> NetworkAttachment {
        let path = NetworkNamespace(name: pooled.namespace, ip: ipCommand).path
        do {
            guard let result = try JSONSerialization.jsonObject(with: Data(pooled.result.utf8)) as? [String: Any] else {
                throw NetworkError.badResult(plugin: "bridge", detail: "the pooled result is not a JSON object")
            }
            // The container owns the namespace from the moment its state names it; a crash
            // before the pool's file is gone leaves both, and `recoverPool` drops the pool's.
            let conflist = readState(pooled.networkID)?.conflist
            var state = CachedState(namespace: pooled.namespace, ports: ports, result: ports.isEmpty ? pooled.result : nil,
                                    networkID: pooled.networkID, reusable: reusable, conflist: conflist)
            try saveState(state, id: id)
            unlink(stateURL(pooled.networkID).path)
            guard !ports.isEmpty else { return try attachment(from: result, namespacePath: path) }
            let (_, plugins) = try parsedConflist(conflist)
            let final = try add(plugins.filter(isPortmap), networkID: pooled.networkID, namespacePath: path, previous: result, ports: ports)
            state.result = String(decoding: try JSONSerialization.data(withJSONObject: final), as: UTF8.self)
            try saveState(state, id: id)
            return try attachment(from: final, namespacePath: path)
        } catch {
            if readState(id) != nil { _ = tearDownNow(id: id) } else { _ = tearDownNow(id: pooled.networkID) }
            throw error
        }
    }

    private func tearDownNow(id: String) -> [String] {
        let state = readState(id)
        let networkID = state?.networkID ?? id
        let namespace = NetworkNamespace(name: state?.namespace ?? Self.namespaceName(id: id), ip: ipCommand)
        let hadNamespace = namespace.exists
        guard state != nil || hadNamespace else { return [] }
        var problems: [String] = []
        let prevResult = state?.result.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
        let ports = state?.ports ?? []
        do {
            let (_, plugins) = try parsedConflist(state?.conflist)
            for plugin in plugins.reversed() {
                if isPortmap(plugin) && ports.isEmpty { continue }
                do {
                    _ = try invoke(plugin, command: "DEL", id: networkID, namespacePath: namespace.path, prevResult: prevResult, ports: ports)
                } catch {
                    problems.append("\(error)")
                }
            }
        } catch {
            problems.append("\(error)")
        }
        let pluginsFailed = !problems.isEmpty
        if let problem = namespace.delete() { problems.append(problem) }
        // The plugins' DEL leaves rules behind only when it could not see the namespace (or failed).
        if !hadNamespace || pluginsFailed || state?.result == nil {
            problems += IptablesSweeper(iptables: iptablesCommand).removeRules(mentioning: networkID)
        }
        // Kept when a plugin failed, so that the next teardown can try again.
        if problems.isEmpty { unlink(stateURL(id).path) }
        return problems
    }

    // MARK: Pool

    /// A namespace connected to the bridge ahead of need, under its own CNI container id.
    struct PooledNamespace: Sendable {
        var networkID: String
        var namespace: String
        /// The ADD result, as JSON text.
        var result: String
    }

    private struct Pool {
        var ready: [PooledNamespace] = []
        /// Slots taken by setups in progress and by namespaces on their way back from containers.
        var pending = 0
        /// The refill `refillPool(after:)` scheduled, until it starts.
        var scheduled: Task<Void, Never>?
        var closed = false

        /// Takes a slot if the pool has room.
        mutating func reserve(size: Int) -> Bool {
            guard !closed, ready.count + pending < size else { return false }
            pending += 1
            return true
        }
    }

    static let poolPrefix = "pool-"

    /// The namespaces ready in the pool now.
    public var pooledNamespaces: [String] { pool.withLock { $0.ready.map(\.namespace) } }

    /// Whether a refill is scheduled and has not started (what tests check instead of waiting).
    var refillScheduled: Bool { pool.withLock { $0.scheduled != nil } }

    private func takeFromPool() -> PooledNamespace? {
        guard configuration.poolSize > 0 else { return nil }
        return pool.withLock { p in p.ready.isEmpty ? nil : p.ready.removeFirst() }
    }

    /// Tops the pool up in the background `delay` after the first call that found it short (so
    /// that the plugins do not compete with the container that is starting). Later calls do not
    /// postpone it: under a steady stream of starts, faster than `delay` apart, a refill that
    /// waited for a quiet moment would never come. Only bridge setups call it: an agent that
    /// never runs a bridge container keeps no pool.
    private func refillPool(after delay: Duration) {
        pool.withLock { p in
            guard configuration.poolSize > 0, !p.closed, p.scheduled == nil, p.ready.count < configuration.poolSize
            else { return }
            p.scheduled = Task.detached { [self] in
                try? await Task.sleep(for: delay)
                // A drain cancels it (and closes the pool, which `fillPool` checks too).
                let due = pool.withLock { p -> Bool in
                    guard !Task.isCancelled else { return false }
                    p.scheduled = nil
                    return true
                }
                if due { await fillPool() }
            }
        }
    }

    /// Connects namespaces until the pool is full, one setup at a time on the plugins' queue.
    /// Stops at the first failure (the next setup tries again).
    public func fillPool() async {
        let size = configuration.poolSize
        while pool.withLock({ $0.reserve(size: size) }) {
            let made = try? await onQueue(queue) { () throws -> (String, String) in
                // The namespace name holds the whole id: a fresh one never meets another's.
                var networkID = ""
                repeat {
                    networkID = Self.poolPrefix + Self.randomHex(7)
                } while NetworkNamespace(name: Self.namespaceName(id: networkID), ip: self.ipCommand).exists
                    || FileManager.default.fileExists(atPath: self.stateURL(networkID).path)
                return (networkID, try self.setUpNow(id: networkID, ports: []).result)
            }
            // Made for the network as it was before a `reconfigure`: not kept.
            let current = made.map { readState($0.0)?.pool == poolKey } ?? false
            let kept = pool.withLock { p -> Bool in
                guard let (networkID, result) = made, !p.closed, current else { return false }
                p.pending -= 1
                p.ready.append(PooledNamespace(networkID: networkID, namespace: Self.namespaceName(id: networkID), result: result))
                return true
            }
            if !kept {
                if let (networkID, _) = made { _ = try? await onQueue(queue) { self.tearDownNow(id: networkID) } }
                pool.withLock { $0.pending -= 1 }  // only now: a drain waits for this teardown
                return
            }
        }
    }

    /// Returns container `id`'s namespace to the pool when it came from there, the container
    /// could not change it, and the pool has room: `portmap` DEL if it published ports, then the
    /// pool's file is written before the container's goes (a crash in between leaves the
    /// container owning it, see `recoverPool`). False: it was not returned.
    private func recycle(_ id: String) async -> Bool {
        let size = configuration.poolSize
        guard size > 0, let state = readState(id), state.reusable == true, let networkID = state.networkID,
            networkID.hasPrefix(Self.poolPrefix), let result = state.result,
            state.conflist.map(isCurrent) ?? true,
            NetworkNamespace(name: state.namespace, ip: ipCommand).exists
        else { return false }
        guard pool.withLock({ $0.reserve(size: size) }) else { return false }
        let entry = PooledNamespace(networkID: networkID, namespace: state.namespace, result: result)
        let returned: Bool
        do {
            returned = try await onQueue(queue) {
                // Another teardown of the same container may have run meanwhile.
                guard self.readState(id)?.networkID == networkID else { return false }
                if !state.ports.isEmpty {
                    let (_, plugins) = try self.parsedConflist(state.conflist)
                    let prevResult = try JSONSerialization.jsonObject(with: Data(result.utf8))
                    for plugin in plugins where self.isPortmap(plugin) {
                        _ = try self.invoke(plugin, command: "DEL", id: networkID, namespacePath: NetworkNamespace(name: state.namespace, ip: self.ipCommand).path,
                                            prevResult: prevResult, ports: state.ports)
                    }
                }
                try self.saveState(
                    CachedState(namespace: state.namespace, ports: [], result: result, pool: self.poolKey, conflist: state.conflist), id: networkID)
                unlink(self.stateURL(id).path)
                return true
            }
        } catch {
            returned = false  // the full teardown follows
        }
        pool.withLock { p in
            p.pending -= 1
            if returned { p.ready.append(entry) }
        }
        return returned
    }

    /// Adopts the pooled namespaces a previous process left (up to the pool size, if made for
    /// this bridge and subnet) and removes the rest, and the pool's files of namespaces a
    /// container took. Call it before any container is set up or torn down (the agent does it
    /// first thing when it adopts its containers). Returns what could not be removed.
    public func recoverPool() async -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: resultsDirectory.path)) ?? []
        var taken = Set<String>()
        var pooled: [String] = []
        for name in names where name.hasSuffix(".json") {
            let id = String(name.dropLast(".json".count))
            if id.hasPrefix(Self.poolPrefix) {
                pooled.append(id)
            } else if let networkID = readState(id)?.networkID {
                taken.insert(networkID)
            }
        }
        var problems: [String] = []
        for id in pooled.sorted() {
            if taken.contains(id) {
                unlink(stateURL(id).path)
                continue
            }
            let state = readState(id)
            enum Outcome { case held, adopted, removed }
            let outcome = pool.withLock { p -> Outcome in
                if p.ready.contains(where: { $0.networkID == id }) { return .held }  // already this process's
                guard let state, let result = state.result, state.networkID == nil, state.pool == poolKey,
                    p.ready.count + p.pending < configuration.poolSize,
                    !p.closed, NetworkNamespace(name: state.namespace, ip: ipCommand).exists
                else { return .removed }
                p.ready.append(PooledNamespace(networkID: id, namespace: state.namespace, result: result))
                return .adopted
            }
            if outcome == .removed { problems += (try? await onQueue(queue) { self.tearDownNow(id: id) }) ?? [] }
        }
        return problems
    }

    /// Removes the pooled namespaces and stops refilling (a stopping agent leaves none behind).
    public func drainPool() async -> [String] {
        let scheduled = pool.withLock { p -> Task<Void, Never>? in
            p.closed = true
            defer { p.scheduled = nil }
            return p.scheduled
        }
        scheduled?.cancel()
        while pool.withLock({ $0.pending > 0 }) { try? await Task.sleep(for: .milliseconds(10)) }
        let entries = pool.withLock { p -> [PooledNamespace] in
            defer { p.ready = [] }
            return p.ready
        }
        var problems: [String] = []
        for entry in entries {
            problems += (try? await onQueue(queue) { self.tearDownNow(id: entry.networkID) }) ?? []
        }
        return problems
    }

    /// Whether a network state is recorded for container `id` (a setup started for it).
    public func hasState(id: String) -> Bool {
        FileManager.default.fileExists(atPath: stateURL(id).path)
    }

    private static func randomHex(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in "0123456789abcdef".randomElement(using: &generator)! })
    }

    // MARK: Plugins

    /// Whether a recorded conflist is the current one (as JSON: key order differs between processes).
    private func isCurrent(_ text: String) -> Bool {
        let recorded = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
        let now = try? JSONSerialization.jsonObject(with: current.withLock { $0.conflist }) as? NSDictionary
        return recorded != nil && recorded == now
    }

    /// `text`, a conflist recorded with an attachment, or else the current one.
    private func parsedConflist(_ text: String? = nil) throws -> (String, [[String: Any]]) {
        let conflist = text.map { Data($0.utf8) } ?? current.withLock { $0.conflist }
        guard let list = try JSONSerialization.jsonObject(with: conflist) as? [String: Any],
            let plugins = list["plugins"] as? [[String: Any]]
        else {
            throw NetworkError.badConfiguration("the CNI conflist has no plugins")
        }
        return ((list["cniVersion"] as? String) ?? Self.cniVersion, plugins)
    }

    private func pluginType(_ plugin: [String: Any]) -> String { plugin["type"] as? String ?? "?" }

    private func isPortmap(_ plugin: [String: Any]) -> Bool {
        (plugin["capabilities"] as? [String: Any])?["portMappings"] as? Bool == true
    }

    /// Runs one plugin as the CNI spec says: parameters in the environment, its network
    /// configuration (with `prevResult` and `runtimeConfig`) on stdin, its result on stdout.
    private func invoke(
        _ plugin: [String: Any], command: String, id: String, namespacePath: String, prevResult: Any?,
        ports: [PortMapping]
    ) throws -> Data {
        let type = pluginType(plugin)
        let searched = configuration.pluginDirectories.map { "\($0)/\(type)" }
        guard let binary = searched.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw NetworkError.pluginNotFound(type: type, searched: configuration.pluginDirectories)
        }
        var config = plugin
        config["name"] = configuration.name
        config["cniVersion"] = Self.cniVersion
        if let prevResult { config["prevResult"] = prevResult }
        if isPortmap(plugin) {
            config["runtimeConfig"] = [
                "portMappings": ports.map { p -> [String: Any] in
                    var m: [String: Any] = [
                        "hostPort": Int(p.hostPort), "containerPort": Int(p.containerPort), "protocol": p.transport.rawValue,
                    ]
                    if let ip = p.hostIP { m["hostIP"] = ip }
                    return m
                }
            ]
        }
        let input = try JSONSerialization.data(withJSONObject: config)
        let result = try Subprocess.run(
            binary, [],
            environment: [
                "CNI_COMMAND": command, "CNI_CONTAINERID": id, "CNI_NETNS": namespacePath,
                "CNI_IFNAME": configuration.interfaceName, "CNI_PATH": configuration.pluginDirectories.joined(separator: ":"),
            ],
            input: Array(input), timeout: .seconds(60))
        guard result.succeeded else {
            var message = result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            if let error = try? JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any] {
                let msg = error["msg"] as? String ?? ""
                let details = error["details"] as? String ?? ""
                message = details.isEmpty ? msg : "\(msg): \(details)"
            }
            if message.isEmpty { message = result.timedOut ? "timed out" : result.exit.description }
            throw NetworkError.pluginFailed(plugin: type, command: command, id: id, message: message)
        }
        return Data(result.stdout)
    }

    /// The container's address, gateway and veth from a CNI 1.0 result.
    private func attachment(from result: [String: Any], namespacePath: String) throws -> NetworkAttachment {
        let interfaces = result["interfaces"] as? [[String: Any]] ?? []
        let ips = result["ips"] as? [[String: Any]] ?? []
        guard let entry = ips.first(where: { ($0["address"] as? String)?.contains(".") == true }),
            let cidr = entry["address"] as? String
        else {
            throw NetworkError.badResult(plugin: "bridge", detail: "no IPv4 address in \(ips)")
        }
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let prefix = Int(parts[1]) else {
            throw NetworkError.badResult(plugin: "bridge", detail: "address \(cidr) is not in CIDR form")
        }
        var mac: String?
        if let index = entry["interface"] as? Int, interfaces.indices.contains(index) {
            mac = interfaces[index]["mac"] as? String
        }
        let veth = interfaces.first { $0["sandbox"] == nil && ($0["name"] as? String) != configuration.bridge }?["name"] as? String
        return NetworkAttachment(
            namespacePath: namespacePath, ipAddress: String(parts[0]), prefixLength: prefix,
            gateway: entry["gateway"] as? String, hostInterface: veth, macAddress: mac)
    }
}

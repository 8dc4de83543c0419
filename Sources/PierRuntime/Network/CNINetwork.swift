import Dispatch
import Foundation

/// Bridge networking through the real CNI plugins (CNI spec 1.0.0), invoked directly: a
/// named network namespace per container, `bridge` (with `host-local` IPAM, gateway and
/// masquerading) and `portmap` (published ports, with SNAT for hairpin and local traffic).
///
/// Setups and teardowns run one at a time (the plugins' iptables chain creation is not safe
/// to race). Teardown is idempotent and also undoes a half-finished setup: namespace, veth,
/// iptables rules and the IPAM reservation.
public final class CNINetwork: Sendable {
    public let configuration: NetworkConfiguration
    /// `<dataRoot>/cni`: the conflist, cached results and IPAM state.
    public let stateDirectory: URL
    private let conflist: Data
    private let ipCommand: String
    private let iptablesCommand: String
    private let queue = DispatchQueue(label: "pier.cni")

    static let cniVersion = "1.0.0"

    /// Prepares the state directory and writes the conflist (`<dataRoot>/cni/<name>.conflist`).
    public init(configuration: NetworkConfiguration = NetworkConfiguration(), dataRoot: URL) throws {
        try configuration.validate()
        self.configuration = configuration
        stateDirectory = dataRoot.appendingPathComponent("cni")
        ipCommand = NetworkNamespace.locateIP()
        iptablesCommand =
            ["/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables"]
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "iptables"
        let fm = FileManager.default
        for sub in ["results", "ipam"] { try fm.makeDirectory(stateDirectory.appendingPathComponent(sub)) }
        let list: [String: Any] = [
            "cniVersion": Self.cniVersion,
            "name": configuration.name,
            "plugins": [
                [
                    "type": "bridge", "bridge": configuration.bridge, "isGateway": true, "ipMasq": true,
                    "hairpinMode": true,
                    "ipam": [
                        "type": "host-local", "ranges": [[["subnet": configuration.subnet]]],
                        "routes": [["dst": "0.0.0.0/0"]], "dataDir": stateDirectory.appendingPathComponent("ipam").path,
                    ] as [String: Any],
                ] as [String: Any],
                ["type": "portmap", "snat": true, "capabilities": ["portMappings": true]] as [String: Any],
            ],
        ]
        // No .sortedKeys: sorting makes JSONSerialization compare keys with an ICU collator,
        // which keeps ICU's collation data resident in the agent. The file is rewritten only
        // when its content changes, whatever the order of its keys.
        conflist = try JSONSerialization.data(withJSONObject: list, options: [.prettyPrinted, .withoutEscapingSlashes])
        let url = stateDirectory.appendingPathComponent("\(configuration.name).conflist")
        let current = (try? Data(contentsOf: url)).flatMap { try? JSONSerialization.jsonObject(with: $0) as? NSDictionary }
        let wanted = try JSONSerialization.jsonObject(with: conflist) as? NSDictionary
        if current == nil || current != wanted {
            try SystemCalls.writeAtomically(conflist, to: url)
        }
    }

    var resultsDirectory: URL { stateDirectory.appendingPathComponent("results") }
    var ipamDirectory: URL { stateDirectory.appendingPathComponent("ipam") }

    /// The container's network namespace name: `pier-` and the id's first 12 characters.
    public static func namespaceName(id: String) -> String { "pier-\(id.prefix(12))" }

    /// The container's network namespace path.
    public static func namespacePath(id: String) -> String { "\(NetworkNamespace.directory)/\(namespaceName(id: id))" }

    /// Creates the container's namespace and connects it to the bridge, publishing `ports`.
    /// On failure everything done so far is undone before the error is thrown.
    public func setUp(id: String, ports: [PortMapping]) async throws -> NetworkAttachment {
        try await onQueue(queue) { try self.setUpNow(id: id, ports: ports) }
    }

    /// Disconnects the container and removes its namespace, rules and address reservation.
    /// Safe to call again, or for a container that never had a network. Returns what could
    /// not be cleaned up (empty when all is gone).
    @discardableResult
    public func tearDown(id: String) async -> [String] {
        (try? await onQueue(queue) { self.tearDownNow(id: id) }) ?? ["network teardown of \(id) did not run"]
    }

    // MARK: Setup and teardown

    /// Cached per container: what teardown needs (CNI DEL gets the ADD result as prevResult).
    struct CachedState: Codable {
        var namespace: String
        var ports: [PortMapping]
        /// The final ADD result, as JSON text; nil while the setup is in progress.
        var result: String?
    }

    private func stateURL(_ id: String) -> URL { resultsDirectory.appendingPathComponent("\(id).json") }

    private func saveState(_ state: CachedState, id: String) throws {
        try SystemCalls.writeAtomically(try JSONEncoder().encode(state), to: stateURL(id))
    }

    private func setUpNow(id: String, ports: [PortMapping]) throws -> NetworkAttachment {
        let namespace = NetworkNamespace(name: Self.namespaceName(id: id), ip: ipCommand)
        do {
            // Written first, so a crash at any later point leaves teardown what it needs.
            try saveState(CachedState(namespace: namespace.name, ports: ports, result: nil), id: id)
            try namespace.create()
            let (_, plugins) = try parsedConflist()
            var previous: Any?
            for plugin in plugins {
                if isPortmap(plugin) && ports.isEmpty { continue }
                let output = try invoke(plugin, command: "ADD", id: id, namespacePath: namespace.path, prevResult: previous, ports: ports)
                guard let result = try? JSONSerialization.jsonObject(with: output) as? [String: Any] else {
                    throw NetworkError.badResult(plugin: pluginType(plugin), detail: String(decoding: output.prefix(200), as: UTF8.self))
                }
                previous = result
            }
            guard let final = previous as? [String: Any] else {
                throw NetworkError.badResult(plugin: "bridge", detail: "no result")
            }
            let attachment = try attachment(from: final, namespacePath: namespace.path)
            let text = String(decoding: try JSONSerialization.data(withJSONObject: final), as: UTF8.self)
            try saveState(CachedState(namespace: namespace.name, ports: ports, result: text), id: id)
            return attachment
        } catch {
            _ = tearDownNow(id: id)
            throw error
        }
    }

    private func tearDownNow(id: String) -> [String] {
        let namespace = NetworkNamespace(name: Self.namespaceName(id: id), ip: ipCommand)
        let state = (try? Data(contentsOf: stateURL(id))).flatMap { try? JSONDecoder().decode(CachedState.self, from: $0) }
        guard state != nil || namespace.exists else { return [] }
        var problems: [String] = []
        let prevResult = state?.result.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
        let ports = state?.ports ?? []
        do {
            let (_, plugins) = try parsedConflist()
            for plugin in plugins.reversed() {
                if isPortmap(plugin) && ports.isEmpty { continue }
                do {
                    _ = try invoke(plugin, command: "DEL", id: id, namespacePath: namespace.path, prevResult: prevResult, ports: ports)
                } catch {
                    problems.append("\(error)")
                }
            }
        } catch {
            problems.append("\(error)")
        }
        if let problem = namespace.delete() { problems.append(problem) }
        problems += IptablesSweeper(iptables: iptablesCommand).removeRules(mentioning: id)
        // Kept when a plugin failed, so that the next teardown can try again.
        if problems.isEmpty { unlink(stateURL(id).path) }
        return problems
    }

    // MARK: Plugins

    private func parsedConflist() throws -> (String, [[String: Any]]) {
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

import Foundation
import PierCluster

/// A compose file (compose-spec, with the `deploy:` section as Swarm reads it), validated and
/// turned into one service spec per compose service, named as in the file (not yet namespaced
/// by a stack). Every key Pier does not implement is an error, never silently dropped.
public struct ComposeFile: Codable, Sendable, Equatable {
    /// Top-level `name:`, if given; `pier stack deploy` may use it when no stack name is given.
    public var name: String?
    /// The services, sorted by name.
    public var services: [ServiceSpec]
    /// Variables referenced without a default that were not set (Compose substitutes "" and warns).
    public var unsetVariables: [String]
    /// What the file asks for that Pier serves differently (`endpoint_mode: vip`), for the deploy to print.
    public var warnings: [String]

    public init(name: String? = nil, services: [ServiceSpec], unsetVariables: [String] = [], warnings: [String] = []) {
        self.name = name; self.services = services; self.unsetVariables = unsetVariables; self.warnings = warnings
    }

    static let topLevelKeys: Set<String> = ["version", "name", "services", "networks"]
    static let topLevelHints: [String: String] = [
        "volumes": "not supported: Pier has no named volumes; use bind mounts (./data:/data) in the service",
        "secrets": "not supported: Pier has no secrets store yet; use a read-only bind mount",
        "configs": "not supported: Pier has no configs store yet; use a read-only bind mount",
        "include": "not supported: put every service in one file",
    ]

    /// Parses compose YAML. Relative bind-mount sources are resolved against `directory` (the
    /// compose file's); `environment` is what `${VAR}` and bare environment entries read.
    /// Throws every problem found at once; returns nothing partial.
    public static func parse(yaml: String, directory: String, environment: [String: String] = [:]) throws(StackError) -> ComposeFile {
        let root = try YAMLValue.parse(yaml)
        guard case .mapping = root else {
            throw .malformed("compose file must be a mapping with a services: key at the top, found \(root.kindName)")
        }
        let base = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        var reader = ComposeReader(environment: environment, directory: ComposeReader.normalize(base))
        guard let top = reader.mapping(root, "", allowed: topLevelKeys, hints: topLevelHints) else {
            throw .invalid(reader.problems)
        }
        var name: String?
        if let v = top["name"], let n = reader.string(v, "name") {
            if let reason = StackDefinition.nameProblem(n) { reader.invalid("name", "\"\(n)\" \(reason)") } else { name = n }
        }
        if let v = top["networks"] { reader.networks(v, "networks") }
        var services: [ServiceSpec] = []
        if let v = top["services"], let entries = reader.entries(v, "services", what: "service names to services") {
            if entries.isEmpty { reader.invalid("services", "is empty; a stack needs at least one service") }
            for entry in entries.sorted(by: { $0.key < $1.key }) {
                if let spec = reader.service(name: entry.key, entry.value) { services.append(spec) }
            }
        } else if top["services"] == nil {
            reader.invalid("services", "is required: a mapping of service names to services")
        }
        guard reader.problems.isEmpty else {
            throw .invalid(reader.problems.sorted { Self.precedes($0.path, $1.path) })
        }
        return ComposeFile(name: name, services: services, unsetVariables: reader.interpolation.unset, warnings: reader.warnings)
    }

    /// Reads and parses the compose file at `url`, resolving relative bind mounts against its directory.
    public static func load(contentsOf url: URL, environment: [String: String] = ProcessInfo.processInfo.environment) throws(StackError) -> ComposeFile {
        let limit = YAMLValue.Limits().maxBytes
        let data: Data
        do {
            // Read at most one byte past the limit, so /dev/zero or a huge file cannot exhaust memory.
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            data = try handle.read(upToCount: limit + 1) ?? Data()
        } catch {
            throw .unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
        guard data.count <= limit else {
            throw .tooLarge("compose file \(url.path) is larger than \(limit) bytes, the limit (a compose file is a few kilobytes)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .malformed("compose file \(url.path) is not UTF-8 text")
        }
        let directory = url.deletingLastPathComponent().standardizedFileURL.path
        return try parse(yaml: text, directory: directory, environment: environment)
    }

    /// Orders problems as the file reads: by service, then by key, with list indices numerically.
    private static func precedes(_ a: String, _ b: String) -> Bool {
        a.compare(b, options: [.numeric]) == .orderedAscending
    }
}

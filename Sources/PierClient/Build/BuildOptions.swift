import Foundation
import PierImage
import PierOCI

/// The flags of `pier image build` as typed: either a recipe (`-f Pierfile`) or the image
/// described by flags (`--from`, `--add`, `--cmd`, …). Turned into a ``BuildPlan`` without
/// touching the network, so every mistake is reported before anything is built.
public struct BuildOptions: Sendable, Equatable {
    /// `-t NAME`: the new image's name.
    public var tag: String?
    /// `-f RECIPE`: a Dockerfile-subset recipe; sources are relative to its directory.
    public var recipe: String?
    /// `--from BASE`; nil or `scratch` builds from nothing.
    public var from: String?
    /// `--add SRC:DST`, each one layer, in order.
    public var adds: [String] = []
    /// `--with-libs`: for each added ELF executable, also add its shared libraries and interpreter.
    public var withLibs = false
    /// A JSON array (`["/app","--port","5683"]`), else split on whitespace.
    public var entrypoint: String?
    /// A JSON array, else split on whitespace.
    public var cmd: String?
    public var env: [String] = []
    public var workdir: String?
    public var user: String?
    public var labels: [String] = []
    public var expose: [String] = []

    public init() {}

    /// Checks the flags and reads the recipe; `currentDirectory` resolves relative `--add` sources.
    public func plan(currentDirectory: URL) throws(ClientError) -> BuildPlan {
        let tagReference: ImageReference?
        do {
            tagReference = try tag.map { t throws(ReferenceError) in try ImageReference(parsing: t) }
        } catch {
            throw .invalidArgument("--tag \(tag ?? ""): \(error)")
        }
        if let recipe {
            let flagsUsed = from != nil || !adds.isEmpty || withLibs || entrypoint != nil || cmd != nil || !env.isEmpty
                || workdir != nil || user != nil || !labels.isEmpty || !expose.isEmpty
            if flagsUsed {
                throw .invalidArgument("-f \(recipe) describes the whole image; drop --from, --add and the config flags, or drop -f")
            }
            return try recipePlan(path: recipe, currentDirectory: currentDirectory, tag: tagReference)
        }
        let base = from.flatMap { $0 == "scratch" || $0.isEmpty ? nil : $0 }
        var layers: [ImageBuildRequest.Layer] = []
        var foundELF = false
        for add in adds {
            let (source, destination) = try Self.splitAdd(add)
            let url = URL(fileURLWithPath: source, relativeTo: currentDirectory).standardizedFileURL
            var st = stat()
            guard lstat(url.path, &st) == 0 else {
                throw .file(path: url.path, reason: "--add \(add): the source does not exist")
            }
            let isELF = withLibs && (st.st_mode & S_IFMT) == S_IFREG && Self.isELF(url.path)
            foundELF = foundELF || isELF
            layers.append(.init(items: [.init(source: url, destination: destination, withLibs: isELF)],
                                createdBy: "pier image build --add \(add)"))
        }
        if withLibs && !foundELF {
            throw .invalidArgument("--with-libs: none of the --add sources is an ELF executable")
        }
        var changes = ImageConfigChanges()
        changes.entrypoint = try entrypoint.map { e throws(ClientError) in try Self.commandLine(e, flag: "--entrypoint") }
        changes.cmd = try cmd.map { c throws(ClientError) in try Self.commandLine(c, flag: "--cmd") }
        for entry in env {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw .invalidArgument("--env \(entry): write KEY=VALUE")
            }
            changes.env.append(EnvironmentVariable(String(entry[..<equals]), String(entry[entry.index(after: equals)...])))
        }
        changes.workingDir = workdir
        changes.user = user
        for entry in labels {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard !parts[0].isEmpty else { throw .invalidArgument("--label \(entry): write KEY=VALUE") }
            changes.labels[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        for port in expose {
            let parts = port.split(separator: "/", maxSplits: 1)
            guard let number = parts.first.flatMap({ Int($0) }), (1...65535).contains(number),
                  parts.count == 1 || ["tcp", "udp"].contains(parts[1].lowercased()) else {
                throw .invalidArgument("--expose \(port): write PORT, PORT/tcp or PORT/udp with a port from 1 to 65535")
            }
            changes.exposedPorts.append(port.lowercased())
        }
        return BuildPlan(baseReference: base, layers: layers, changes: changes, tag: tagReference)
    }

    private func recipePlan(path: String, currentDirectory: URL, tag: ImageReference?) throws(ClientError) -> BuildPlan {
        let url = URL(fileURLWithPath: path, relativeTo: currentDirectory).standardizedFileURL
        do {
            let recipe = try Recipe.load(url)
            let layers = try recipe.layers(context: url.deletingLastPathComponent())
            let base: String? = switch recipe.base {
            case .scratch: nil
            case .image(let name): name
            }
            return BuildPlan(baseReference: base, layers: layers, changes: recipe.changes, tag: tag)
        } catch {
            throw .invalidArgument("\(path): \(error)")
        }
    }

    /// `SRC:DST` split at the last `:` that starts an absolute destination.
    static func splitAdd(_ text: String) throws(ClientError) -> (String, String) {
        guard let range = text.range(of: ":/", options: .backwards), range.lowerBound != text.startIndex else {
            throw .invalidArgument("--add \(text): write SRC:DST with an absolute destination, e.g. --add ./server:/app/server")
        }
        return (String(text[..<range.lowerBound]), String(text[text.index(after: range.lowerBound)...]))
    }

    /// A JSON array of strings, else the words of `text`.
    static func commandLine(_ text: String, flag: String) throws(ClientError) -> [String] {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("[") {
            guard let array = try? JSONDecoder().decode([String].self, from: Data(trimmed.utf8)) else {
                throw .invalidArgument("\(flag) \(text): a value starting with [ must be a JSON array of strings")
            }
            return array
        }
        return trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }

    static func isELF(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)) == Data([0x7f, 0x45, 0x4c, 0x46])
    }
}

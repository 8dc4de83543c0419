import Foundation
import PierOCI

/// A build recipe: the subset of the Dockerfile language that needs no container to build.
///
/// `FROM scratch|IMAGE`, `COPY [--with-libs] [--chown=UID:GID] SRC... DST` (`ADD` is the same
/// for local files; URLs are refused and archives are not extracted), `ENV`, `WORKDIR`, `USER`,
/// `ENTRYPOINT`, `CMD` (exec and shell forms), `LABEL`, `EXPOSE`, `STOPSIGNAL`, `VOLUME`,
/// comments and line continuations. Each `COPY`/`ADD` makes one layer. Variables are not
/// substituted.
public struct Recipe: Sendable, Equatable {
    /// What the image starts from.
    public enum Base: Sendable, Equatable {
        case scratch
        case image(String)
    }

    /// One `COPY` or `ADD`: sources relative to the recipe's directory, the destination
    /// already resolved against the `WORKDIR` in effect.
    public struct Copy: Sendable, Equatable {
        public var sources: [String]
        public var destination: String
        public var withLibs: Bool
        public var ownership: ImageBuildRequest.Ownership?
        /// The instruction as written, for the layer's history.
        public var instruction: String
        public var line: Int
    }

    public var base: Base
    public var copies: [Copy]
    public var changes: ImageConfigChanges

    /// Parses a recipe; errors name the line.
    public static func parse(_ text: String) throws(RecipeError) -> Recipe {
        var parser = RecipeParser()
        return try parser.parse(text)
    }

    /// Reads and parses the recipe file at `url`.
    public static func load(_ url: URL) throws(RecipeError) -> Recipe {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw RecipeError(line: 0, message: "cannot read \(url.path): \(error.localizedDescription)")
        }
        return try parse(text)
    }

    /// The layers to build, with sources resolved inside `context` (the recipe's directory).
    /// A source that does not exist or that leads outside `context` (by `..` or a symlink) is
    /// refused.
    public func layers(context: URL) throws(RecipeError) -> [ImageBuildRequest.Layer] {
        let root = context.resolvingSymlinksInPath().standardizedFileURL
        var layers: [ImageBuildRequest.Layer] = []
        for copy in copies {
            var items: [ImageBuildRequest.CopyItem] = []
            var sources: [URL] = []
            for source in copy.sources {
                sources += try Self.resolve(source, in: root, line: copy.line)
            }
            let many = sources.count > 1 || copy.sources.contains(where: Self.hasWildcard)
            let intoDirectory = copy.destination.hasSuffix("/")
            if many && !intoDirectory {
                throw RecipeError(line: copy.line, message: "with several sources the destination must be a directory ending in \"/\" (got \"\(copy.destination)\")")
            }
            for url in sources {
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
                let destination: String
                if isDirectory.boolValue {
                    destination = copy.destination
                } else if intoDirectory {
                    destination = copy.destination + url.lastPathComponent
                } else {
                    destination = copy.destination
                }
                items.append(.init(source: url, destination: destination, withLibs: copy.withLibs && !isDirectory.boolValue))
            }
            layers.append(.init(items: items, createdBy: copy.instruction, ownership: copy.ownership))
        }
        return layers
    }

    /// The build request for this recipe, given the base image (nil for `FROM scratch`).
    public func buildRequest(context: URL, base: ImageBuildRequest.Base?, tag: ImageReference?) throws(RecipeError) -> ImageBuildRequest {
        if case .image(let name) = self.base, base == nil {
            throw RecipeError(line: 0, message: "the recipe builds FROM \(name); its manifest and config are needed")
        }
        return ImageBuildRequest(base: base, layers: try layers(context: context), changes: changes, tag: tag)
    }

    static func hasWildcard(_ s: String) -> Bool { s.contains("*") || s.contains("?") || s.contains("[") }

    /// Resolves one source (with wildcards in its last component) inside `root`.
    static func resolve(_ source: String, in root: URL, line: Int) throws(RecipeError) -> [URL] {
        var parts: [String] = []
        for part in source.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                guard !parts.isEmpty else {
                    throw RecipeError(line: line, message: "source \"\(source)\" is outside the recipe's directory")
                }
                parts.removeLast()
            } else {
                parts.append(String(part))
            }
        }
        var candidates: [URL]
        if let last = parts.last, hasWildcard(last) {
            let directory = parts.dropLast().reduce(root) { $0.appendingPathComponent($1) }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            candidates = names.filter { fnmatch(last, $0, 0) == 0 }.sorted().map { directory.appendingPathComponent($0) }
            if candidates.isEmpty { throw RecipeError(line: line, message: "no file matches \"\(source)\"") }
        } else {
            candidates = [parts.reduce(root) { $0.appendingPathComponent($1) }]
        }
        for url in candidates {
            var st = stat()
            guard lstat(url.path, &st) == 0 else {
                throw RecipeError(line: line, message: "source \"\(source)\" does not exist in \(root.path)")
            }
            // The path may go through symlinks; where it really leads must stay inside.
            let real = url.resolvingSymlinksInPath().standardizedFileURL.path
            let rootPath = root.path.hasSuffix("/") ? root.path : root.path + "/"
            guard real == root.path || real.hasPrefix(rootPath) else {
                throw RecipeError(line: line, message: "source \"\(source)\" leads outside the recipe's directory (to \(real))")
            }
        }
        return candidates.map { $0.resolvingSymlinksInPath() }
    }
}

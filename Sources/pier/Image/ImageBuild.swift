import ArgumentParser
import Foundation
import PierClient

/// `pier image build`: builds an image on this machine and uploads only its new blobs.
struct ImageBuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build an image from files on this machine, without running a container.",
        discussion: """
        Describe the image with flags (--from, --add, --cmd, ...) or with a recipe: a Dockerfile subset \
        (FROM, COPY/ADD, ENV, WORKDIR, USER, ENTRYPOINT, CMD, LABEL, EXPOSE, STOPSIGNAL; no RUN), e.g. \
        pier image build -f Pierfile -t sensor:1.0. The build runs here: the base's manifest and config \
        come from the agent, the new layers are built locally, and only the new blobs are uploaded. \
        Prints the new image's digest.
        """
    )

    @OptionGroup var client: ClientOptions
    @Option(name: .shortAndLong, help: ArgumentHelp("Name of the new image, e.g. sensor:1.0.", valueName: "name"))
    var tag: String?
    @Option(name: [.customShort("f"), .customLong("file")],
            help: ArgumentHelp("Build from this recipe; COPY sources are relative to its directory.", valueName: "recipe"))
    var recipe: String?
    @Option(help: ArgumentHelp("Base image on the agent, or scratch (default).", valueName: "image"))
    var from: String?
    @Option(help: ArgumentHelp("Copy a host file or directory into the image; each --add is one layer.", valueName: "SRC:DST"))
    var add: [String] = []
    @Flag(help: "Also add the shared libraries and ELF interpreter that added executables need.")
    var withLibs = false
    @Option(help: ArgumentHelp("Entrypoint: a JSON array, e.g. '[\"/app\",\"-v\"]', or words split on spaces.", valueName: "command"))
    var entrypoint: String?
    @Option(help: ArgumentHelp("Default command: a JSON array or words split on spaces.", valueName: "command"))
    var cmd: String?
    @Option(help: ArgumentHelp("Set an environment variable in the image.", valueName: "KEY=VALUE"))
    var env: [String] = []
    @Option(help: ArgumentHelp("Working directory of the image.", valueName: "dir"))
    var workdir: String?
    @Option(help: ArgumentHelp("User the image runs as: name, uid, name:group or uid:gid.", valueName: "user"))
    var user: String?
    @Option(help: ArgumentHelp("Set a label on the image.", valueName: "KEY=VALUE"))
    var label: [String] = []
    @Option(help: ArgumentHelp("Declare a port the image listens on: 5683, 5683/udp.", valueName: "port"))
    var expose: [String] = []

    var options: BuildOptions {
        var o = BuildOptions()
        o.tag = tag; o.recipe = recipe; o.from = from; o.adds = add; o.withLibs = withLibs
        o.entrypoint = entrypoint; o.cmd = cmd; o.env = env; o.workdir = workdir; o.user = user
        o.labels = label; o.expose = expose
        return o
    }

    func validate() throws {
        if recipe == nil && add.isEmpty && from == nil {
            throw ValidationError("nothing to build: give -f RECIPE, or --from and/or --add")
        }
    }

    func run() async throws {
        let plan = try options.plan(currentDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        let image = try await client.withClient { try await plan.build(with: $0) }
        Output.print(image.digest + "\n")
    }
}

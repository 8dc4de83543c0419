import ArgumentParser
import Foundation
import PierAgent

/// `pier agent`: the device daemon.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the device agent: stores images and runs containers through runc.",
        discussion: "The agent keeps its images, containers and state under --data-root and serves the API on "
            + "each --listen address. Containers keep running when the agent stops or is killed; the next "
            + "agent on the same data root adopts them."
    )

    @Option(help: "Directory for images, containers and state.")
    var dataRoot: String = "/var/lib/pier"

    @Option(help: ArgumentHelp("Where to serve the API (repeatable).", discussion: "Default: unix://DATA_ROOT/pier.sock.", valueName: "unix://PATH"))
    var listen: [String] = []

    @Option(help: "The Linux bridge containers with --network bridge attach to.")
    var bridge: String = "pier0"

    @Option(help: "Subnet of that bridge.")
    var bridgeSubnet: String = "10.89.0.0/16"

    @Option(help: "The runc binary (default: PIER_RUNC, PATH, /usr/sbin/runc).")
    var runc: String?

    @Option(help: "The pier-shim binary (default: PIER_SHIM, next to pier, PATH).")
    var shim: String?

    func run() async throws {
        let root = URL(fileURLWithPath: dataRoot).standardizedFileURL
        let configuration = AgentConfiguration(
            dataRoot: root, listen: listen, runcPath: runc, shimPath: shim, bridgeName: bridge, bridgeSubnet: bridgeSubnet)
        try await Agent(configuration: configuration).run()
    }
}

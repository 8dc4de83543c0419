import ArgumentParser
import Foundation
import PierClient
import PierCluster

/// `pier ca status|rotate`: the cluster CA.
struct CACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "Show or rotate the cluster's certificate authority.",
        subcommands: [CAStatusCommand.self, CARotate.self]
    )
}

struct CAStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the cluster CA and a rotation's progress.")

    @OptionGroup var client: ClientOptions
    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() async throws {
        let status = try await client.withManager { try await $0.caStatus() }
        Output.print(json ? try JSONOutput.render(status) : CAStatusText.render(status))
    }
}

struct CARotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Move the cluster to a new CA without interrupting it.",
        discussion: "The manager makes a new CA, cross-signed by the current one, and issues every certificate from it; each "
            + "node trusts both and renews its certificate. When every node has moved (pier ca status), the old CA is dropped: "
            + "client certificates it issued stop working (make new ones with pier cert create) and join tokens made before "
            + "no longer join (make new ones with pier join-token). A node that cannot move (down) holds the rotation until it "
            + "comes back or is removed.")

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let status = try await client.withManager { try await $0.rotateCA() }
        Output.print(CAStatusText.render(status))
    }
}

enum CAStatusText {
    static func render(_ status: CAStatus) -> String {
        guard let rotation = status.rotation else {
            return "CA \(status.fingerprint)\nno rotation under way\n"
        }
        var text = "rotating from CA \(rotation.from)\n       to CA \(status.fingerprint)\n"
        text += "started \(ISO8601DateFormatter().string(from: rotation.startedAt)); \(rotation.nodesMoved) of \(rotation.nodesTotal) node(s) moved\n"
        if !rotation.pending.isEmpty { text += "waiting for: \(rotation.pending.joined(separator: ", "))\n" }
        return text
    }
}

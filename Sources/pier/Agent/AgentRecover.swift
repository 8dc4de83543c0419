import ArgumentParser
import Foundation
import PierAgent

/// `pier agent recover`: rebuilds a degraded agent's state from runc and the container directories.
struct AgentRecover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Rebuild the agent's container records from the container directories and running shims.",
        discussion: "Run it while the agent is stopped, when `pier info` says the agent is degraded (its state database "
            + "cannot be read, is damaged, or was lost while containers exist) or lists container directories without a "
            + "record. An unusable database is moved aside as agent.db.unusable-TIME (kept, never deleted) and a new one "
            + "made; a usable one keeps its records and gains the containers it lacks. Each container directory the agent "
            + "made becomes a container again: running if its shim still runs, else exited. Start the agent afterwards: "
            + "it adopts them. Restart counts and health history are not recovered. Give the agent's data root when it is "
            + "not /var/lib/pier: `pier agent recover --data-root DIR`."
    )

    /// `--data-root` is the agent's own option (`pier agent recover --data-root DIR`).
    @ParentCommand var agent: AgentCommand

    func run() async throws {
        let configuration = AgentConfiguration(dataRoot: URL(fileURLWithPath: agent.daemon.dataRoot).standardizedFileURL)
        let report = try AgentRecovery.recover(configuration: configuration)
        var lines: [String] = []
        if let problem = report.problem { lines.append("The database could not be used: \(problem)") }
        if let moved = report.movedAside { lines.append("Moved it aside to \(moved); a new database was made.") }
        lines.append(report.recovered.isEmpty ? "No container to recover." : "Recovered \(report.recovered.count) container(s):")
        lines += report.recovered.map { "  " + $0 }
        if !report.skipped.isEmpty {
            lines.append("Left as they are:")
            lines += report.skipped.map { "  " + $0 }
        }
        if !report.recovered.isEmpty { lines.append("Start the agent to adopt them.") }
        print(lines.joined(separator: "\n"))
    }
}

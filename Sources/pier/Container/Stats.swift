import ArgumentParser
import Foundation
import PierAPI
import PierClient

/// `pier stats`: CPU, memory and process counts of running containers, refreshed each second.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show containers' CPU, memory and process use, refreshed every second.",
        discussion: "Without names, every running container. CPU % is of one CPU, as Docker counts it. With --format json each refresh prints one JSON array on one line.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption
    @Flag(help: "Print one sample and exit.")
    var noStream = false
    @Argument(help: ArgumentHelp("Container ids or names (default: all running).", valueName: "container"))
    var containers: [String] = []

    func run() async throws {
        try await client.withClient { agent in
            let hostMemory = output.format == .table ? (try? await agent.info())?.memoryBytes : nil
            while true {
                let samples = try await sample(agent)
                switch (output.format, noStream) {
                case (.json, true): Output.print(try JSONOutput.render(samples))
                case (.json, false): Output.print(try JSONOutput.renderLine(samples))
                case (.table, true): Output.print(StatsListing.table(samples, hostMemory: hostMemory).rendered())
                case (.table, false):
                    // Clear the screen and home the cursor, as docker stats does.
                    Output.print("\u{1B}[2J\u{1B}[H" + StatsListing.table(samples, hostMemory: hostMemory).rendered())
                }
                if noStream { return }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    func sample(_ agent: AgentClient) async throws -> [ContainerStats] {
        guard !containers.isEmpty else { return try await agent.allStats() }
        return try await withThrowingTaskGroup(of: (Int, ContainerStats).self) { group in
            for (index, container) in containers.enumerated() {
                group.addTask { (index, try await agent.stats(container)) }
            }
            var samples = [ContainerStats?](repeating: nil, count: containers.count)
            for try await (index, stats) in group { samples[index] = stats }
            return samples.compactMap { $0 }
        }
    }
}

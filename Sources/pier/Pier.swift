import ArgumentParser

@main
struct Pier: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pier",
        abstract: "Container orchestration for IoT gateways and edge devices.",
        subcommands: [
            Run.self, Ps.self, Start.self, Stop.self, Restart.self, Kill.self, Rm.self, Exec.self, Logs.self,
            Inspect.self, Stats.self, Wait.self, ImageCommand.self, Info.self, Version.self, AgentCommand.self,
        ]
    )
}

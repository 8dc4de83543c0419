import ArgumentParser

/// Every command sets `commandName` itself: deriving it from the type name costs a runtime
/// conformance scan per command on every start, and `pier run` is on the activation benchmark.
@main
struct Pier: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pier",
        abstract: "Container orchestration for IoT gateways and edge devices.",
        subcommands: [
            Run.self, Ps.self, Start.self, Stop.self, Restart.self, Kill.self, Rm.self, Exec.self, Logs.self,
            Inspect.self, Stats.self, Wait.self, ImageCommand.self, Info.self, Version.self, AgentCommand.self, ManagerCommand.self, UpCommand.self,
            ServiceCommand.self, NodeCommand.self, StackCommand.self, JoinTokenCommand.self,
        ]
    )
}

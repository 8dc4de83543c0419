import ArgumentParser

/// `pier stack …`: compose files deployed as groups of services.
struct StackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stack",
        abstract: "Deploy and manage stacks of services from compose files (talks to pier manager).",
        subcommands: [StackDeploy.self, StackList.self, StackPs.self, StackRemove.self]
    )
}

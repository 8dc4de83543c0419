import ArgumentParser

/// `pier service …`: services of the cluster, through the manager.
struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Create and manage services on the cluster (talks to pier manager).",
        subcommands: [
            ServiceCreate.self, ServiceList.self, ServicePs.self, ServiceInspect.self, ServiceUpdate.self,
            ServiceScale.self, ServiceRollback.self, ServiceRemove.self, ServiceLogs.self,
        ]
    )
}

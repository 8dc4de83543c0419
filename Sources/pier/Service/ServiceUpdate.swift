import PierSpec
import ArgumentParser
import Foundation
import PierAPI
import PierClient
import PierCluster

/// `pier service update`: fetches the spec, changes only what the flags say, posts it back.
struct ServiceUpdate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Change a service; its tasks are replaced under its update config.",
        discussion: "Only the given flags change. The previous spec is kept: pier service rollback returns to it.")

    @OptionGroup var client: ClientOptions
    @Option(help: "New image, e.g. sensor:1.1.")
    var image: String?
    @Option(help: ArgumentHelp("The tasks' command, shell-quoted (\"\" clears it).", valueName: "command"))
    var args: String?
    @OptionGroup var settings: ServiceSettingsOptions
    @Option(help: ArgumentHelp("Add or replace an environment variable.", valueName: "KEY=VALUE"))
    var envAdd: [String] = []
    @Option(help: ArgumentHelp("Remove an environment variable.", valueName: "KEY"))
    var envRm: [String] = []
    @Option(help: ArgumentHelp("Add or replace a service label.", valueName: "KEY=VALUE"))
    var labelAdd: [String] = []
    @Option(help: ArgumentHelp("Remove a service label.", valueName: "KEY"))
    var labelRm: [String] = []
    @Option(help: ArgumentHelp("Add or replace a container label.", valueName: "KEY=VALUE"))
    var containerLabelAdd: [String] = []
    @Option(help: ArgumentHelp("Remove a container label.", valueName: "KEY"))
    var containerLabelRm: [String] = []
    @Option(help: ArgumentHelp("Add a placement constraint.", valueName: "constraint"))
    var constraintAdd: [String] = []
    @Option(help: ArgumentHelp("Remove a placement constraint, written as it was added.", valueName: "constraint"))
    var constraintRm: [String] = []
    @Option(help: ArgumentHelp("Add a placement preference.", valueName: "spread=node.labels.NAME"))
    var placementPrefAdd: [String] = []
    @Option(help: ArgumentHelp("Remove a placement preference.", valueName: "spread=node.labels.NAME"))
    var placementPrefRm: [String] = []
    @Option(help: ArgumentHelp("Publish a port.", valueName: "HOST:CONTAINER[/udp]"))
    var publishAdd: [String] = []
    @Option(help: ArgumentHelp("Unpublish a container port.", valueName: "CONTAINER[/udp]"))
    var publishRm: [String] = []
    @Option(help: ArgumentHelp("Add a bind mount.", valueName: "HOST:CONTAINER[:ro]"))
    var volumeAdd: [String] = []
    @Option(help: ArgumentHelp("Remove a bind mount by its container path.", valueName: "path"))
    var volumeRm: [String] = []
    @Option(help: ArgumentHelp("Add a host device.", valueName: "HOST[:CONTAINER][:rwm]"))
    var deviceAdd: [String] = []
    @Option(help: ArgumentHelp("Remove a host device by its host path.", valueName: "path"))
    var deviceRm: [String] = []
    @Flag(inversion: .prefixedNo, help: "Give the tasks every capability and device, without seccomp (needs an admin).")
    var privileged: Bool?
    @Option(help: ArgumentHelp(
        "Add or replace a security option: seccomp=PROFILE.json|unconfined, apparmor=NAME, no-new-privileges[=false].",
        valueName: "option"))
    var securityOptAdd: [String] = []
    @Option(help: ArgumentHelp("Remove a security option by its key (seccomp, apparmor, no-new-privileges).", valueName: "key"))
    var securityOptRm: [String] = []
    @Option(help: ArgumentHelp("Add or replace a tmpfs mount.", valueName: "path[:options]"))
    var tmpfsAdd: [String] = []
    @Option(help: ArgumentHelp("Remove a tmpfs mount by its path.", valueName: "path"))
    var tmpfsRm: [String] = []
    @Option(help: ArgumentHelp("Add or replace a mount (by its target).", valueName: "type=…,target=…"))
    var mountAdd: [String] = []
    @Option(help: ArgumentHelp("Remove a mount by its target.", valueName: "path"))
    var mountRm: [String] = []
    @Option(help: ArgumentHelp("Add or replace a resource limit.", valueName: "NAME=SOFT[:HARD]"))
    var ulimitAdd: [String] = []
    @Option(help: ArgumentHelp("Remove a resource limit by its name.", valueName: "NAME"))
    var ulimitRm: [String] = []
    @Option(help: ArgumentHelp("Add or replace a namespaced kernel parameter.", valueName: "KEY=VALUE"))
    var sysctlAdd: [String] = []
    @Option(help: ArgumentHelp("Remove a kernel parameter.", valueName: "KEY"))
    var sysctlRm: [String] = []
    @Flag(name: .customLong("init"), inversion: .prefixedNo, help: "Run (or stop running) tini as each task's process 1.")
    var initProcess: Bool?
    @Option(help: ArgumentHelp("User namespace of the tasks: remap, host, or \"\" for each node's default.", valueName: "mode"))
    var userns: String?
    @Argument(help: ArgumentHelp("Service name or id.", valueName: "service"))
    var service: String

    var options: ServiceUpdateOptions {
        var o = ServiceUpdateOptions()
        o.settings = settings.settings; o.image = image; o.args = args
        o.envAdd = envAdd; o.envRemove = envRm; o.labelAdd = labelAdd; o.labelRemove = labelRm
        o.containerLabelAdd = containerLabelAdd; o.containerLabelRemove = containerLabelRm
        o.constraintAdd = constraintAdd; o.constraintRemove = constraintRm
        o.placementPreferenceAdd = placementPrefAdd; o.placementPreferenceRemove = placementPrefRm
        o.publishAdd = publishAdd; o.publishRemove = publishRm; o.volumeAdd = volumeAdd; o.volumeRemove = volumeRm
        o.deviceAdd = deviceAdd; o.deviceRemove = deviceRm
        o.privileged = privileged; o.securityOptAdd = securityOptAdd; o.securityOptRemove = securityOptRm
        o.tmpfsAdd = tmpfsAdd; o.tmpfsRemove = tmpfsRm; o.mountAdd = mountAdd; o.mountRemove = mountRm
        o.ulimitAdd = ulimitAdd; o.ulimitRemove = ulimitRm; o.sysctlAdd = sysctlAdd; o.sysctlRemove = sysctlRm
        o.initProcess = initProcess; o.userns = userns
        return o
    }

    func run() async throws {
        let options = self.options
        // Check the flags on a stand-in spec first, so a malformed value is reported before any request.
        var standIn = ServiceSpec(name: service, task: TaskTemplate(container: .init(image: "check")))
        standIn.task.container.health = HealthCheckConfig(command: ["true"])
        _ = try options.apply(to: standIn, environment: ProcessInfo.processInfo.environment)
        let updated = try await client.withManager { manager in
            let current = try await manager.inspectService(service)
            let spec = try options.apply(to: current.spec, environment: ProcessInfo.processInfo.environment)
            return try await manager.updateService(current.id, spec: spec)
        }
        Output.print(updated.spec.name + "\n")
    }
}

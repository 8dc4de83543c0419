import ArgumentParser
import PierClient

/// The flags `service create` and `service update` share; see ``ServiceSettings``.
struct ServiceSettingsOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Number of tasks (replicated services).", valueName: "n"))
    var replicas: Int?
    @Option(name: .shortAndLong, help: ArgumentHelp("Working directory inside the container.", valueName: "dir"))
    var workdir: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("User to run as: name, uid, name:group or uid:gid.", valueName: "user"))
    var user: String?
    @Option(help: "Hostname of the containers.")
    var hostname: String?
    @Flag(inversion: .prefixedNo, help: "Mount the containers' root filesystem read-only.")
    var readOnly: Bool?
    @Option(help: ArgumentHelp("Network: bridge (default), host or none.", valueName: "mode"))
    var network: String?
    @Option(help: ArgumentHelp("Replace the image's entrypoint with this executable (\"\" clears it).", valueName: "executable"))
    var entrypoint: String?

    @Option(help: ArgumentHelp("Memory limit, e.g. 64m or 1g (0: none).", valueName: "bytes"))
    var limitMemory: String?
    @Option(help: ArgumentHelp("CPU limit in CPUs, e.g. 0.5 (0: none).", valueName: "n"))
    var limitCpu: Double?
    @Option(help: ArgumentHelp("Most processes a container may have (0: no limit).", valueName: "n"))
    var limitPids: Int?
    @Option(help: ArgumentHelp("Memory the scheduler reserves on the node, e.g. 32m.", valueName: "bytes"))
    var reserveMemory: String?
    @Option(help: ArgumentHelp("CPUs the scheduler reserves on the node, e.g. 0.25.", valueName: "n"))
    var reserveCpu: Double?
    @Option(help: ArgumentHelp("Most tasks of the service on one node (0: no limit).", valueName: "n"))
    var maxReplicasPerNode: Int?

    @Option(help: ArgumentHelp("When to replace a task that ended: none, on-failure or any (default any).", valueName: "condition"))
    var restartCondition: String?
    @Option(help: ArgumentHelp("Wait before a replacement, e.g. 5s (default 5s).", valueName: "duration"))
    var restartDelay: String?
    @Option(help: ArgumentHelp("Replacements allowed within the window (0: no limit).", valueName: "n"))
    var restartMaxAttempts: Int?
    @Option(help: ArgumentHelp("Window in which restart attempts are counted, e.g. 2m.", valueName: "duration"))
    var restartWindow: String?

    @Option(help: ArgumentHelp("Tasks updated at once (0: all; default 1).", valueName: "n"))
    var updateParallelism: Int?
    @Option(help: ArgumentHelp("Wait between update batches, e.g. 10s.", valueName: "duration"))
    var updateDelay: String?
    @Option(help: ArgumentHelp("When an update fails: pause, continue or rollback (default pause).", valueName: "action"))
    var updateFailureAction: String?
    @Option(help: ArgumentHelp("How long an updated task is watched for failure, e.g. 5s.", valueName: "duration"))
    var updateMonitor: String?
    @Option(help: ArgumentHelp("Fraction of updated tasks that may fail, 0 to 1.", valueName: "ratio"))
    var updateMaxFailureRatio: Double?
    @Option(help: ArgumentHelp("stop-first (default) or start-first.", valueName: "order"))
    var updateOrder: String?

    @Option(help: ArgumentHelp("Tasks rolled back at once (0: all).", valueName: "n"))
    var rollbackParallelism: Int?
    @Option(help: ArgumentHelp("Wait between rollback batches.", valueName: "duration"))
    var rollbackDelay: String?
    @Option(help: ArgumentHelp("When a rollback fails: pause or continue.", valueName: "action"))
    var rollbackFailureAction: String?
    @Option(help: ArgumentHelp("How long a rolled-back task is watched for failure.", valueName: "duration"))
    var rollbackMonitor: String?
    @Option(help: ArgumentHelp("Fraction of rolled-back tasks that may fail, 0 to 1.", valueName: "ratio"))
    var rollbackMaxFailureRatio: Double?
    @Option(help: ArgumentHelp("stop-first or start-first.", valueName: "order"))
    var rollbackOrder: String?

    @Option(help: ArgumentHelp("Command run with /bin/sh -c inside the container to check its health.", valueName: "command"))
    var healthCmd: String?
    @Option(help: ArgumentHelp("Time between health checks (default 30s).", valueName: "duration"))
    var healthInterval: String?
    @Option(help: ArgumentHelp("Time a health check may take (default 30s).", valueName: "duration"))
    var healthTimeout: String?
    @Option(help: ArgumentHelp("Failed checks in a row that make a task unhealthy (default 3).", valueName: "n"))
    var healthRetries: Int?
    @Option(help: ArgumentHelp("Time after start during which failed checks do not count.", valueName: "duration"))
    var healthStartPeriod: String?
    @Flag(help: "Remove the service's health check.")
    var noHealthcheck = false

    @Option(help: ArgumentHelp(
        "How clients reach the tasks by name: vip or dnsrr.",
        discussion: "Pier has no virtual IPs: both resolve the service's name to every running (and healthy) task's address.",
        valueName: "mode"))
    var endpointMode: String?
    @Option(help: ArgumentHelp(
        "A further name the service resolves as (repeatable); on update the names given replace the current ones, \"\" removes them all.",
        valueName: "name"))
    var networkAlias: [String] = []

    var settings: ServiceSettings {
        var s = ServiceSettings()
        s.replicas = replicas; s.workdir = workdir; s.user = user; s.hostname = hostname; s.readOnly = readOnly
        s.network = network; s.entrypoint = entrypoint
        s.limitMemory = limitMemory; s.limitCPU = limitCpu; s.limitPids = limitPids
        s.reserveMemory = reserveMemory; s.reserveCPU = reserveCpu; s.maxReplicasPerNode = maxReplicasPerNode
        s.restartCondition = restartCondition; s.restartDelay = restartDelay
        s.restartMaxAttempts = restartMaxAttempts; s.restartWindow = restartWindow
        s.update.parallelism = updateParallelism; s.update.delay = updateDelay
        s.update.failureAction = updateFailureAction; s.update.monitor = updateMonitor
        s.update.maxFailureRatio = updateMaxFailureRatio; s.update.order = updateOrder
        s.rollback.parallelism = rollbackParallelism; s.rollback.delay = rollbackDelay
        s.rollback.failureAction = rollbackFailureAction; s.rollback.monitor = rollbackMonitor
        s.rollback.maxFailureRatio = rollbackMaxFailureRatio; s.rollback.order = rollbackOrder
        s.healthCmd = healthCmd; s.healthInterval = healthInterval; s.healthTimeout = healthTimeout
        s.healthRetries = healthRetries; s.healthStartPeriod = healthStartPeriod; s.noHealthcheck = noHealthcheck
        s.endpointMode = endpointMode; s.networkAliases = networkAlias.isEmpty ? nil : networkAlias
        return s
    }
}

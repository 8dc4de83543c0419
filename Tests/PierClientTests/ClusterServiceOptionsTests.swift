import PierSpec
import Foundation
import PierAPI
import PierCluster
import Testing
@testable import PierClient

@Suite("pier service create flags → ServiceSpec")
struct ClusterServiceOptionsTests {
    func spec(_ options: ServiceCreateOptions, environment: [String: String] = [:], files: [String: String] = [:]) throws -> ServiceSpec {
        try options.makeSpec(environment: environment, readFile: { path in
            guard let text = files[path] else { throw CocoaError(.fileNoSuchFile) }
            return text
        }, suffix: { "abc123" })
    }

    @Test func defaultsAreOneReplicaAndSwarmsPolicies() throws {
        var o = ServiceCreateOptions(image: "busybox", command: ["sleep", "1d"])
        o.name = "web"
        let s = try spec(o)
        #expect(s == ServiceSpec(name: "web", task: TaskTemplate(container: ContainerSpec(image: "busybox", command: ["sleep", "1d"]))))
        #expect(s.mode == .replicated(1))
        #expect(s.task.restartPolicy == RestartPolicy(condition: .any, delaySeconds: 5))
    }

    @Test func everyFlagFamilyLandsInItsField() throws {
        var o = ServiceCreateOptions(image: "sensor:1.0", command: ["serve", "--port", "5683"])
        o.name = "sensor"
        o.env = ["A=1", "HOME_DIR"]; o.envFiles = ["/etc/sensor.env"]
        o.volumes = ["/var/lib/sensor:/data:ro"]; o.devices = ["/dev/gpiochip0"]; o.publish = ["5683:5683/udp", "8080:80"]
        o.constraints = ["node.labels.zone==a", "node.platform.arch==arm64"]
        o.placementPreferences = ["spread=node.labels.rack"]
        o.labels = ["team=iot", "flag"]; o.containerLabels = ["tier=edge"]
        var s = ServiceSettings()
        s.replicas = 3; s.workdir = "/srv"; s.user = "1000:1000"; s.hostname = "gw"; s.readOnly = true
        s.network = "bridge"; s.entrypoint = "/bin/sensor"
        s.limitMemory = "64m"; s.limitCPU = 0.5; s.limitPids = 50; s.reserveMemory = "32m"; s.reserveCPU = 0.25
        s.maxReplicasPerNode = 2
        s.restartCondition = "on-failure"; s.restartDelay = "2s"; s.restartMaxAttempts = 4; s.restartWindow = "1m"
        s.update.parallelism = 2; s.update.delay = "10s"; s.update.failureAction = "rollback"; s.update.monitor = "30s"
        s.update.maxFailureRatio = 0.25; s.update.order = "start-first"
        s.rollback.parallelism = 0; s.rollback.delay = "1s"; s.rollback.failureAction = "continue"; s.rollback.monitor = "2s"
        s.rollback.maxFailureRatio = 0.5; s.rollback.order = "stop-first"
        s.healthCmd = "wget -q -O- localhost"; s.healthInterval = "5s"; s.healthTimeout = "1s"; s.healthRetries = 2
        s.healthStartPeriod = "10s"
        o.settings = s
        let spec = try spec(o, environment: ["HOME_DIR": "/home/x"], files: ["/etc/sensor.env": "# comment\nB=2\n"])

        var container = ContainerSpec(image: "sensor:1.0", command: ["serve", "--port", "5683"])
        container.entrypoint = ["/bin/sensor"]
        container.env = ["B=2", "A=1", "HOME_DIR=/home/x"]
        container.workdir = "/srv"; container.user = "1000:1000"; container.hostname = "gw"; container.readOnly = true
        container.volumes = ["/var/lib/sensor:/data:ro"]; container.devices = ["/dev/gpiochip0"]
        container.memory = "64m"; container.cpus = 0.5; container.pidsLimit = 50; container.network = "bridge"
        container.publish = ["5683:5683/udp", "8080:80"]; container.labels = ["tier": "edge"]
        container.health = HealthCheckConfig(command: ["wget -q -O- localhost"], intervalSeconds: 5, timeoutSeconds: 1, retries: 2, startPeriodSeconds: 10)
        let expected = ServiceSpec(
            name: "sensor", labels: ["team": "iot", "flag": ""],
            task: TaskTemplate(
                container: container,
                placement: Placement(constraints: ["node.labels.zone==a", "node.platform.arch==arm64"], preferences: ["spread=node.labels.rack"], maxReplicasPerNode: 2),
                reservations: Resources(cpus: 0.25, memoryBytes: 32 << 20),
                restartPolicy: RestartPolicy(condition: .onFailure, delaySeconds: 2, maxAttempts: 4, windowSeconds: 60)),
            mode: .replicated(3),
            update: UpdateConfig(parallelism: 2, delaySeconds: 10, failureAction: .rollback, monitorSeconds: 30, maxFailureRatio: 0.25, order: .startFirst),
            rollback: UpdateConfig(parallelism: 0, delaySeconds: 1, failureAction: .continue, monitorSeconds: 2, maxFailureRatio: 0.5, order: .stopFirst))
        #expect(spec == expected)
    }

    @Test func endpointModeAndAliasesLandInTheSpecAndAnEmptyAliasClearsThem() throws {
        var o = ServiceCreateOptions(image: "busybox")
        o.name = "db"
        o.settings.endpointMode = "dnsrr"
        o.settings.networkAliases = ["database", "pg", "database"]
        var s = try spec(o)
        #expect(s.endpointMode == .dnsrr && s.aliases == ["database", "pg"])
        // Update semantics: the names given replace the current ones; "" alone removes them.
        var clear = ServiceSettings()
        clear.networkAliases = [""]
        try clear.apply(to: &s)
        #expect(s.aliases == [] && s.endpointMode == .dnsrr)
    }

    @Test func globalModeHasNoReplicaCount() throws {
        var o = ServiceCreateOptions(image: "agent-probe")
        o.name = "probe"; o.mode = "global"
        #expect(try spec(o).mode == .global)
        o.settings.replicas = 2
        let error = #expect(throws: ClientError.self) { try spec(o) }
        #expect(error?.description.hasPrefix("--replicas 2 cannot be used with --mode global") == true)
    }

    @Test func zeroLimitsMeanNoLimit() throws {
        var o = ServiceCreateOptions(image: "busybox")
        o.name = "x"
        o.settings.limitMemory = "0"; o.settings.limitCPU = 0; o.settings.limitPids = 0; o.settings.maxReplicasPerNode = 0
        o.settings.restartMaxAttempts = 0; o.settings.restartWindow = "0"
        let s = try spec(o)
        #expect(s.task.container.memory == nil && s.task.container.cpus == nil)
        #expect(s.task.container.pidsLimit == -1, "no limit, not the node's default one")
        #expect(s.task.placement.maxReplicasPerNode == nil)
        #expect(s.task.restartPolicy.maxAttempts == nil && s.task.restartPolicy.windowSeconds == nil)
    }

    @Test func defaultNameComesFromTheImage() throws {
        #expect(try spec(ServiceCreateOptions(image: "registry:5000/acme/sensor:1.2")).name == "sensor-abc123")
        #expect(ServiceCreateOptions.defaultName(image: "app@sha256:abcd", suffix: "s") == "app-s")
        #expect(ServiceCreateOptions.defaultName(image: "__", suffix: "s") == "service-s")
        let random = ServiceCreateOptions.randomSuffix()
        #expect(random.count == 6 && random.allSatisfy { $0.isLowercase || $0.isNumber })
    }

    struct BadFlag: Sendable, CustomStringConvertible {
        var flag: String
        var change: @Sendable (inout ServiceCreateOptions) -> Void
        var description: String { flag }
    }

    static let badFlags: [BadFlag] = [
        BadFlag(flag: "--mode") { $0.mode = "daemonset" },
        BadFlag(flag: "--replicas") { $0.settings.replicas = -1 },
        BadFlag(flag: "--network") { $0.settings.network = "overlay" },
        BadFlag(flag: "--limit-memory") { $0.settings.limitMemory = "lots" },
        BadFlag(flag: "--limit-cpu") { $0.settings.limitCPU = -1 },
        BadFlag(flag: "--limit-pids") { $0.settings.limitPids = -3 },
        BadFlag(flag: "--reserve-memory") { $0.settings.reserveMemory = "12x" },
        BadFlag(flag: "--reserve-cpu") { $0.settings.reserveCPU = -0.5 },
        BadFlag(flag: "--max-replicas-per-node") { $0.settings.maxReplicasPerNode = -1 },
        BadFlag(flag: "--restart-condition") { $0.settings.restartCondition = "always" },
        BadFlag(flag: "--restart-delay") { $0.settings.restartDelay = "5" },
        BadFlag(flag: "--restart-max-attempts") { $0.settings.restartMaxAttempts = -1 },
        BadFlag(flag: "--restart-window") { $0.settings.restartWindow = "soon" },
        BadFlag(flag: "--update-parallelism") { $0.settings.update.parallelism = -1 },
        BadFlag(flag: "--update-delay") { $0.settings.update.delay = "1 minute" },
        BadFlag(flag: "--update-failure-action") { $0.settings.update.failureAction = "explode" },
        BadFlag(flag: "--update-monitor") { $0.settings.update.monitor = "x" },
        BadFlag(flag: "--update-max-failure-ratio") { $0.settings.update.maxFailureRatio = 1.5 },
        BadFlag(flag: "--update-order") { $0.settings.update.order = "random" },
        BadFlag(flag: "--rollback-failure-action") { $0.settings.rollback.failureAction = "rollback" },
        BadFlag(flag: "--rollback-order") { $0.settings.rollback.order = "first" },
        BadFlag(flag: "--health-interval") { $0.settings.healthInterval = "5s" },
        BadFlag(flag: "--health-cmd") { $0.settings.healthCmd = "  " },
        BadFlag(flag: "--health-retries") { $0.settings.healthCmd = "true"; $0.settings.healthRetries = 0 },
        BadFlag(flag: "--constraint") { $0.constraints = ["node.labels.zone=a"] },
        BadFlag(flag: "--placement-pref") { $0.placementPreferences = ["spread=zone"] },
        BadFlag(flag: "--publish") { $0.publish = ["80:http"] },
        BadFlag(flag: "--device") { $0.devices = ["gpiochip0"] },
        BadFlag(flag: "--volume") { $0.volumes = ["/data"] },
        BadFlag(flag: "--label") { $0.labels = ["=x"] },
        BadFlag(flag: "--container-label") { $0.containerLabels = ["=x"] },
        BadFlag(flag: "-e") { $0.env = ["=x"] },
        BadFlag(flag: "--name") { $0.name = "" },
        BadFlag(flag: "--endpoint-mode") { $0.settings.endpointMode = "ipvs" },
        BadFlag(flag: "--network-alias") { $0.settings.networkAliases = ["ok", "not.a.label"] },
        BadFlag(flag: "--network-alias") { $0.settings.networkAliases = [String(repeating: "a", count: 64)] },
    ]

    @Test(arguments: badFlags)
    func badValueNamesItsFlag(_ bad: BadFlag) throws {
        var o = ServiceCreateOptions(image: "busybox")
        o.name = "web"
        bad.change(&o)
        let error = #expect(throws: ClientError.self) { try spec(o) }
        #expect(error?.description.contains(bad.flag) == true, "\(error?.description ?? "no error")")
    }

    @Test func unreadableEnvFileNamesTheFile() throws {
        var o = ServiceCreateOptions(image: "busybox")
        o.envFiles = ["/missing.env"]
        let error = #expect(throws: ClientError.self) { try spec(o) }
        #expect(error?.description.hasPrefix("/missing.env: cannot read the --env-file") == true)
    }

    @Test func constraintErrorExplainsTheSyntax() throws {
        var o = ServiceCreateOptions(image: "busybox")
        o.constraints = ["node.color==red"]
        let error = #expect(throws: ClientError.self) { try spec(o) }
        #expect(error?.description.hasPrefix("--constraint: constraint \"node.color==red\" is malformed") == true)
    }

    @Test func scaleArgumentsParseAndRefuseBadForms() throws {
        #expect(try ServiceScaleArgument(parsing: "web=3") == ServiceScaleArgument(service: "web", replicas: 3))
        #expect(try ServiceScaleArgument(parsing: "web=0").replicas == 0)
        for bad in ["web", "=3", "web=-1", "web=three"] {
            let error = #expect(throws: ClientError.self) { try ServiceScaleArgument(parsing: bad) }
            #expect(error?.description.contains("\"\(bad)\"") == true)
        }
    }

    @Test func nodeUpdateNeedsAFlagAndParsesLabels() throws {
        let request = try NodeUpdateOptions(availability: .drain, labelAdd: ["zone=a", "gpio"], labelRemove: ["old"]).request()
        #expect(request == NodeUpdateRequest(availability: .drain, labelAdd: ["zone": "a", "gpio": ""], labelRemove: ["old"]))
        #expect(throws: ClientError.self) { try NodeUpdateOptions().request() }
        let error = #expect(throws: ClientError.self) { try NodeUpdateOptions(labelAdd: ["=a"]).request() }
        #expect(error?.description.hasPrefix("--label-add") == true)
        let rm = #expect(throws: ClientError.self) { try NodeUpdateOptions(labelRemove: ["zone=a"]).request() }
        #expect(rm?.description.hasPrefix("--label-rm") == true)
    }
}

import PierSpec
import Foundation
import PierAPI
import PierCluster
import Testing
@testable import PierClient

@Suite("pier service update flags applied to a service's spec")
struct ClusterServiceUpdateTests {
    /// A spec as the manager would return it: pinned image, env, ports, a health check.
    static let current: ServiceSpec = {
        var c = ContainerSpec(image: "sensor:1.0@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", command: ["serve"])
        c.env = ["A=1", "B=2"]
        c.publish = ["8080:80", "5683:5683/udp"]
        c.volumes = ["/var/lib/sensor:/data", "/etc/sensor:/config:ro"]
        c.devices = ["/dev/gpiochip0", "/dev/ttyUSB0:/dev/ttyS0:rw"]
        c.labels = ["tier": "edge"]
        c.health = HealthCheckConfig(command: ["check"], intervalSeconds: 30, timeoutSeconds: 5, retries: 3)
        return ServiceSpec(
            name: "sensor", labels: ["team": "iot"],
            task: TaskTemplate(container: c, placement: Placement(constraints: ["node.labels.zone==a"], preferences: ["spread=node.labels.rack"])),
            mode: .replicated(2))
    }()

    func apply(_ o: ServiceUpdateOptions, to spec: ServiceSpec = current, environment: [String: String] = [:]) throws -> ServiceSpec {
        try o.apply(to: spec, environment: environment)
    }

    @Test func noFlagsChangeNothing() throws {
        #expect(try apply(ServiceUpdateOptions()) == Self.current)
    }

    @Test func onlyTheGivenFieldsChange() throws {
        var o = ServiceUpdateOptions()
        o.image = "sensor:1.1"
        o.settings.replicas = 5
        o.settings.update.order = "start-first"
        o.settings.restartDelay = "1s"
        let s = try apply(o)
        var expected = Self.current
        expected.task.container.image = "sensor:1.1"
        expected.mode = .replicated(5)
        expected.update.order = .startFirst
        expected.task.restartPolicy.delaySeconds = 1
        #expect(s == expected)
    }

    @Test func envAddReplacesAndEnvRmRemoves() throws {
        var o = ServiceUpdateOptions()
        o.envAdd = ["B=3", "C=4", "FROM_SHELL"]
        o.envRemove = ["A"]
        let s = try apply(o, environment: ["FROM_SHELL": "yes"])
        #expect(s.task.container.env == ["B=3", "C=4", "FROM_SHELL=yes"])
    }

    @Test func listFlagsRemoveBeforeTheyAdd() throws {
        var o = ServiceUpdateOptions()
        o.constraintRemove = ["node.labels.zone==a"]; o.constraintAdd = ["node.labels.zone==b", "node.role==worker"]
        o.placementPreferenceRemove = ["spread=node.labels.rack"]; o.placementPreferenceAdd = ["spread=node.labels.zone"]
        o.publishRemove = ["80"]; o.publishAdd = ["9090:90"]
        o.volumeRemove = ["/config"]; o.volumeAdd = ["/tmp/x:/x"]
        o.deviceRemove = ["/dev/ttyUSB0"]; o.deviceAdd = ["/dev/i2c-1"]
        o.labelRemove = ["team"]; o.labelAdd = ["owner=ops"]
        o.containerLabelRemove = ["tier"]; o.containerLabelAdd = ["role=probe"]
        let s = try apply(o)
        #expect(s.task.placement.constraints == ["node.labels.zone==b", "node.role==worker"])
        #expect(s.task.placement.preferences == ["spread=node.labels.zone"])
        #expect(s.task.container.publish == ["5683:5683/udp", "9090:90"])
        #expect(s.task.container.volumes == ["/var/lib/sensor:/data", "/tmp/x:/x"])
        #expect(s.task.container.devices == ["/dev/gpiochip0", "/dev/i2c-1"])
        #expect(s.labels == ["owner": "ops"])
        #expect(s.task.container.labels == ["role": "probe"])
    }

    @Test func publishRmMatchesTheProtocol() throws {
        var o = ServiceUpdateOptions()
        o.publishRemove = ["5683"]
        #expect(try apply(o).task.container.publish == Self.current.task.container.publish)
        o.publishRemove = ["5683/udp"]
        #expect(try apply(o).task.container.publish == ["8080:80"])
        o.publishRemove = ["8080:80"]
        #expect(try apply(o).task.container.publish == ["5683:5683/udp"])
    }

    @Test func healthFlagsAdjustTheExistingCheck() throws {
        var o = ServiceUpdateOptions()
        o.settings.healthInterval = "10s"
        let s = try apply(o)
        #expect(s.task.container.health == HealthCheckConfig(command: ["check"], intervalSeconds: 10, timeoutSeconds: 5, retries: 3))

        var none = Self.current
        none.task.container.health = nil
        let error = #expect(throws: ClientError.self) { try apply(o, to: none) }
        #expect(error?.description.hasPrefix("--health-interval needs --health-cmd") == true)

        var remove = ServiceUpdateOptions()
        remove.settings.noHealthcheck = true
        #expect(try apply(remove).task.container.health == nil)
        remove.settings.healthRetries = 2
        let conflict = #expect(throws: ClientError.self) { try apply(remove) }
        #expect(conflict?.description.contains("--no-healthcheck") == true)
    }

    @Test func argsAreSplitLikeAShell() throws {
        var o = ServiceUpdateOptions()
        o.args = #"sh -c 'echo "hi there"' a\ b "x\"y""#
        #expect(try apply(o).task.container.command == ["sh", "-c", #"echo "hi there""#, "a b", #"x"y"#])
        o.args = ""
        #expect(try apply(o).task.container.command == [])
        o.args = "sh -c 'unclosed"
        let error = #expect(throws: ClientError.self) { try apply(o) }
        #expect(error?.description.hasPrefix("--args") == true)
    }

    @Test func replicasOnAGlobalServiceIsRefused() throws {
        var global = Self.current
        global.mode = .global
        var o = ServiceUpdateOptions()
        o.settings.replicas = 3
        let error = #expect(throws: ClientError.self) { try apply(o, to: global) }
        #expect(error?.description.hasPrefix("--replicas 3: service sensor is global") == true)
    }

    @Test func badAddedValuesNameTheirFlag() throws {
        let cases: [(String, (inout ServiceUpdateOptions) -> Void)] = [
            ("--constraint-add", { $0.constraintAdd = ["zone==a"] }),
            ("--placement-pref-add", { $0.placementPreferenceAdd = ["pack"] }),
            ("--publish-add", { $0.publishAdd = ["x:80"] }),
            ("--volume-add", { $0.volumeAdd = ["relative"] }),
            ("--device-add", { $0.deviceAdd = ["ttyUSB0"] }),
            ("--label-add", { $0.labelAdd = ["=v"] }),
            ("--env-add", { $0.envAdd = ["=v"] }),
            ("--image", { $0.image = "" }),
            ("--update-parallelism", { $0.settings.update.parallelism = -2 }),
        ]
        for (flag, change) in cases {
            var o = ServiceUpdateOptions()
            change(&o)
            let error = #expect(throws: ClientError.self) { try apply(o) }
            #expect(error?.description.contains(flag) == true, "\(flag): \(error?.description ?? "no error")")
        }
    }
}

@Suite("pier service update: isolation flags")
struct ClusterServiceUpdateIsolationTests {
    @Test func isolationFlagsReplaceByKeyAndRemoveFirst() throws {
        var c = ContainerSpec(image: "busybox")
        c.securityOpt = ["no-new-privileges", "apparmor=a"]
        c.tmpfs = ["/run:size=8m"]
        c.mounts = ["type=tmpfs,target=/cache"]
        c.ulimits = ["nofile=100"]
        c.sysctls = ["net.core.somaxconn": "10"]
        let spec = ServiceSpec(name: "s", task: TaskTemplate(container: c))
        var o = ServiceUpdateOptions()
        o.securityOptAdd = ["seccomp=/p.json"]; o.securityOptRemove = ["apparmor"]
        o.tmpfsAdd = ["/run:size=16m", "/tmp"]; o.mountRemove = ["/cache"]; o.mountAdd = ["type=tmpfs,target=/scratch"]
        o.ulimitAdd = ["nofile=200:300"]; o.sysctlAdd = ["net.core.somaxconn=20"]; o.initProcess = true; o.userns = "remap"
        let u = try o.apply(to: spec, environment: [:]) { path in
            #expect(path == "/p.json")
            return #"{"defaultAction":"SCMP_ACT_ALLOW"}"#
        }.task.container
        #expect(u.securityOpt == ["no-new-privileges", #"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#])
        #expect(u.tmpfs == ["/run:size=16m", "/tmp"])
        #expect(u.mounts == ["type=tmpfs,target=/scratch"])
        #expect(u.ulimits == ["nofile=200:300"])
        #expect(u.sysctls == ["net.core.somaxconn": "20"])
        #expect(u.initProcess && u.userns == "remap" && !u.privileged)

        var back = ServiceUpdateOptions()
        back.initProcess = false; back.userns = ""; back.sysctlRemove = ["net.core.somaxconn"]
        let b = try back.apply(to: ServiceSpec(name: "s", task: TaskTemplate(container: u)), environment: [:]).task.container
        #expect(!b.initProcess && b.userns == nil && b.sysctls.isEmpty)

        // The model's checks: privileged with user-namespace remapping is refused before any request.
        var conflict = ServiceUpdateOptions()
        conflict.privileged = true
        #expect { try conflict.apply(to: ServiceSpec(name: "s", task: TaskTemplate(container: u)), environment: [:]) } throws: {
            "\($0)".contains("--privileged")
        }
    }
}

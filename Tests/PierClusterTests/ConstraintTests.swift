import PierSpec
import PierAPI
import Testing
@testable import PierCluster

@Suite("Constraints and placement preferences")
struct ConstraintTests {
    @Test func parsesEveryKey() throws {
        let arm = makeNode("n1", labels: ["zone": "a"], arch: "aarch64")
        #expect(try Constraint(parsing: "node.labels.zone==a").matches(arm))
        #expect(try !Constraint(parsing: "node.labels.zone!=a").matches(arm))
        #expect(try Constraint(parsing: "node.labels.rack!=b").matches(arm), "a missing label is never equal")
        #expect(try !Constraint(parsing: "node.labels.rack==b").matches(arm))
        #expect(try Constraint(parsing: "node.platform.arch==arm64").matches(arm), "aarch64 is arm64")
        #expect(try Constraint(parsing: " node.platform.arch == aarch64 ").matches(arm))
        #expect(try !Constraint(parsing: "node.platform.arch==x86_64").matches(arm))
        #expect(try Constraint(parsing: "node.platform.arch==amd64").matches(makeNode("n2", arch: "x86_64")))
        #expect(try Constraint(parsing: "node.platform.os==linux").matches(arm))
        #expect(try Constraint(parsing: "node.hostname==host-n1").matches(arm))
        #expect(try !Constraint(parsing: "node.hostname!=host-n1").matches(arm))
        #expect(try Constraint(parsing: "node.role==worker").matches(arm))
        #expect(try !Constraint(parsing: "node.role==manager").matches(arm))
        #expect(try Constraint(parsing: "node.id==n1").matches(arm))
    }

    @Test(arguments: [
        ("node.labels.zone=a", "no == or != operator"),
        ("node.color==red", "unknown key \"node.color\""),
        ("node.labels.==a", "unknown key \"node.labels.\""),
        ("node.labels.zone==", "no value after =="),
        ("==a", "no key before =="),
        ("node.role==boss", "role \"boss\" is not worker or manager"),
        ("node.labels.zone==a==b", "more than one operator"),
    ])
    func refusesMalformed(text: String, reason: String) {
        #expect(throws: ClusterSpecError.malformedConstraint(text, reason: reason)) { try Constraint(parsing: text) }
        let message = ClusterSpecError.malformedConstraint(text, reason: reason).description
        #expect(message.contains(text) && message.contains(reason))
    }

    @Test func parsesPreferences() throws {
        #expect(try PlacementPreference(parsing: "spread=node.labels.zone").spread == .label("zone"))
        #expect(throws: ClusterSpecError.self) { try PlacementPreference(parsing: "spread=zone") }
        #expect(throws: ClusterSpecError.self) { try PlacementPreference(parsing: "binpack=node.labels.zone") }
        #expect(throws: ClusterSpecError.self) { try PlacementPreference(parsing: "node.labels.zone") }
    }

    @Test func parsesPublishedPorts() throws {
        #expect(try PortClaim.parse("8080:80") == [PortClaim(port: 8080)])
        #expect(try PortClaim.parse("5683:5683/udp") == [PortClaim(port: 5683, proto: "udp")])
        #expect(try PortClaim.parse("127.0.0.1:9000:90/tcp") == [PortClaim(port: 9000)])
        #expect(try PortClaim.parse("80") == [])
        #expect(try PortClaim.parse("7000-7001:80-81").map(\.port) == [7000, 7001])
        #expect(throws: ClusterSpecError.self) { try PortClaim.parse("99999:80") }
        #expect(throws: ClusterSpecError.self) { try PortClaim.parse("80:80/icmp") }
    }

    @Test func validatesSpecBeforeStoring() {
        var spec = makeService("s", template: makeTemplate(constraints: ["node.labels.zone=a"])).spec
        #expect(throws: ClusterSpecError.malformedConstraint("node.labels.zone=a", reason: "no == or != operator")) { try spec.validate() }
        spec.task.placement.constraints = ["node.labels.zone==a"]
        spec.update.maxFailureRatio = 2
        #expect(throws: ClusterSpecError.self) { try spec.validate() }
        spec.update.maxFailureRatio = 0.5
        spec.task.container.devices = ["gpiochip0"]
        #expect(throws: ClusterSpecError.self) { try spec.validate() }
        spec.task.container.devices = ["/dev/gpiochip0"]
        #expect(throws: Never.self) { try spec.validate() }
    }

    /// Absurd numbers are refused before anything is stored, naming the field and the range:
    /// near Int.max replicas once trapped the manager at every start.
    @Test(arguments: Array(0..<13))
    func absurdNumbersAreRefusedNamingTheField(index: Int) {
        var s = makeService("s", template: makeTemplate()).spec
        #expect(throws: Never.self) { try s.validate() }
        let field: String
        switch index {
        case 0: field = "replicas"; s.mode = .replicated(Int.max)
        case 1: field = "replicas"; s.mode = .replicated(-1)
        case 2: field = "max-replicas-per-node"; s.task.placement.maxReplicasPerNode = Int.max
        case 3: field = "restart-delay"; s.task.restartPolicy.delaySeconds = 1e17
        case 4: field = "restart-window"; s.task.restartPolicy.windowSeconds = .infinity
        case 5: field = "restart-max-attempts"; s.task.restartPolicy.maxAttempts = Int.max
        case 6: field = "update-parallelism"; s.update.parallelism = Int.max
        case 7: field = "update-monitor"; s.update.monitorSeconds = .nan
        case 8: field = "rollback-delay"; s.rollback.delaySeconds = -1
        case 9: field = "reservations"; s.task.reservations.cpus = .infinity
        case 10: field = "health"; s.task.container.health = HealthCheckConfig(command: ["true"], intervalSeconds: 1e17)
        case 11: field = "health"; s.task.container.health = HealthCheckConfig(command: ["true"], intervalSeconds: 1e-9)
        default: field = "health"; s.task.container.health = HealthCheckConfig(command: ["true"], retries: Int.max)
        }
        let spec = s
        #expect { try spec.validate() } throws: { error in
            guard case .invalidField(let named, let reason)? = error as? ClusterSpecError else { return false }
            return named == field && (reason.contains("outside") || reason.contains("between"))
        }
    }
}

import Foundation
import PierSpec
import Testing

@testable import PierCluster

/// The service directory the manager computes, the names and hosts files an agent renders from
/// it, and a container's resolv.conf.
@Suite struct ServiceDirectoryTests {
    func service(_ id: String, name: String, stack: String? = nil, aliases: [String] = [], health: HealthCheckConfig? = nil) -> Service {
        var s = makeService(id, template: makeTemplate(health: health))
        s.spec.name = name
        if let stack { s.spec.labels[stackNamespaceLabel] = stack }
        s.spec.aliases = aliases
        return s
    }

    func task(_ id: String, of s: Service, address: String?, state: TaskState = .running, desired: TaskState = .running, health: String? = nil) -> ClusterTask {
        var t = runningTask(id, service: s.id, on: "n1", template: s.spec.task)
        t.status = TaskStatus(state: state, timestamp: t0)
        t.desiredState = desired
        t.address = address
        t.health = health
        return t
    }

    @Test func runningTasksWithAnAddressServeTheirService() {
        let web = service("s1", name: "shop_web", stack: "shop")
        let tasks = [
            task("t1", of: web, address: "10.89.0.10"),
            task("t2", of: web, address: "10.89.0.9"),
            task("t3", of: web, address: "10.89.0.11", state: .failed),
            task("t4", of: web, address: "10.89.0.12", desired: .shutdown),
            task("t5", of: web, address: nil),
            task("t6", of: web, address: "10.89.0.13", state: .starting),
        ]
        let directory = ServiceDirectory(services: [web], tasks: tasks)
        #expect(directory.services == [
            ServiceRecord(serviceID: "s1", name: "shop_web", stack: "shop", addresses: ["10.89.0.9", "10.89.0.10"])
        ])
    }

    @Test func withAHealthCheckOnlyHealthyTasksServe() {
        let db = service("s2", name: "db", health: HealthCheckConfig(command: ["true"]))
        let tasks = [
            task("t1", of: db, address: "10.89.0.2", health: "healthy"),
            task("t2", of: db, address: "10.89.0.3", health: "unhealthy"),
            task("t3", of: db, address: "10.89.0.4", health: "starting"),
            task("t4", of: db, address: "10.89.0.5", health: nil),
        ]
        #expect(ServiceDirectory(services: [db], tasks: tasks).services.first?.addresses == ["10.89.0.2"])
        // Without a check, health plays no part.
        let web = service("s3", name: "web")
        #expect(ServiceDirectory(services: [web], tasks: [task("t5", of: web, address: "10.89.0.6")]).services.first?.addresses == ["10.89.0.6"])
    }

    @Test func everyServiceHasARecordSortedByNameEvenWithoutTasks() {
        let a = service("x", name: "zeta")
        let b = service("y", name: "alpha", stack: "st", aliases: ["first"])
        let directory = ServiceDirectory(services: [a, b], tasks: [])
        #expect(directory.services.map(\.name) == ["alpha", "zeta"])
        #expect(directory.services.first?.aliases == ["first"])
        #expect(directory.services.allSatisfy { $0.addresses.isEmpty })
    }

    @Test func namesOfAStacksServiceAndOfAServiceWithoutStack() {
        let stacked = ServiceRecord(serviceID: "s1", name: "shop_web", stack: "shop", aliases: ["www", "Front"], addresses: [])
        #expect(stacked.shortName == "web")
        #expect(stacked.names() == ["web.shop.pier", "tasks.web.shop.pier", "shop_web.pier", "www.shop.pier", "front.shop.pier"])
        let alone = ServiceRecord(serviceID: "s2", name: "Sensor", aliases: ["probe"], addresses: [])
        #expect(alone.shortName == "Sensor")
        #expect(alone.names() == ["sensor.pier", "tasks.sensor.pier", "probe.pier"])
        // A label that does not prefix the name: the whole name is the short one.
        let odd = ServiceRecord(serviceID: "s3", name: "web", stack: "shop", addresses: [])
        #expect(odd.names() == ["web.shop.pier", "tasks.web.shop.pier", "web.pier"])
    }

    @Test func hostsFilesHaveOneLinePerAddressWithEveryName() {
        let directory = ServiceDirectory(services: [
            ServiceRecord(serviceID: "s1", name: "shop_web", stack: "shop", aliases: ["www"], addresses: ["10.89.0.2", "10.89.0.3"]),
            ServiceRecord(serviceID: "s2", name: "idle", addresses: []),
        ])
        #expect(directory.hostsFiles() == [
            "service-s1": """
                10.89.0.2 web.shop.pier tasks.web.shop.pier shop_web.pier www.shop.pier
                10.89.0.3 web.shop.pier tasks.web.shop.pier shop_web.pier www.shop.pier

                """
        ])
    }

    @Test func hostileRecordsFromTheNetworkWriteNothingOdd() {
        let directory = ServiceDirectory(services: [
            ServiceRecord(serviceID: "../../etc/passwd", name: "a", addresses: ["10.0.0.1"]),
            ServiceRecord(serviceID: "s2", name: "b\n10.6.6.6 bank.example", addresses: ["10.0.0.2"]),
            ServiceRecord(serviceID: "s3", name: "c", addresses: ["10.0.0.3 evil.example", "not-an-address"]),
            ServiceRecord(serviceID: "s4", name: "d", aliases: ["ok", "x y"], addresses: ["10.0.0.4"]),
        ])
        let files = directory.hostsFiles()
        #expect(files.keys.sorted() == ["service-s4"])
        #expect(files["service-s4"] == "10.0.0.4 d.pier tasks.d.pier ok.pier\n")
        #expect(!files.values.joined().contains("evil"))
    }

    @Test func theNodesOwnTasksOverlayTheDirectory() {
        let directory = ServiceDirectory(services: [
            ServiceRecord(serviceID: "s1", name: "web", addresses: ["10.89.1.5", "10.89.2.5", "10.89.2.6"]),
            ServiceRecord(serviceID: "s2", name: "db", addresses: ["10.89.2.7"]),
        ])
        let local = try! IPv4Network(parsing: "10.89.2.0/24")
        // Here: web's 10.89.2.5 stopped, a new web task runs at 10.89.2.9, db's task turned unhealthy.
        let merged = directory.overlaying(local: ["s1": ["10.89.2.6", "10.89.2.9"], "s9": ["10.89.2.10"]]) { address in
            IPv4Network.parseAddress(address).map(local.contains) ?? false
        }
        #expect(merged.services.map(\.addresses) == [["10.89.1.5", "10.89.2.6", "10.89.2.9"], []])
    }

    @Test func resolvConfSearchesTheStackFirst() {
        #expect(ContainerResolvConf.render(nameserver: "10.89.0.1", stack: "shop") == "nameserver 10.89.0.1\nsearch shop.pier pier\noptions ndots:2\n")
        #expect(ContainerResolvConf.render(nameserver: "10.89.0.1", stack: nil) == "nameserver 10.89.0.1\nsearch pier\noptions ndots:2\n")
    }

    @Test func specsWithoutTheNewFieldsDecodeAndAliasesAreChecked() throws {
        let old = #"{"name":"web","task":{"container":{"image":"nginx"}}}"#
        let spec = try JSONDecoder().decode(ServiceSpec.self, from: Data(old.utf8))
        #expect(spec.aliases == [] && spec.endpointMode == .vip)
        let again = try JSONDecoder().decode(ServiceSpec.self, from: JSONEncoder().encode(ServiceSpec(name: "w", task: spec.task, aliases: ["a"], endpointMode: .dnsrr)))
        #expect(again.aliases == ["a"] && again.endpointMode == .dnsrr)

        var bad = spec
        bad.aliases = ["ok", "no.dots"]
        #expect(throws: ClusterSpecError.self) { try bad.validate() }
        do { try bad.validate() } catch { #expect("\(error)".contains("network-alias \"no.dots\"")) }
        bad.aliases = (0...ServiceSpec.maxAliases).map { "a\($0)" }
        do { try bad.validate() } catch { #expect("\(error)".contains("at most \(ServiceSpec.maxAliases)")) }
    }
}

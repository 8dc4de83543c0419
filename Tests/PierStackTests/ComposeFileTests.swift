import PierSpec
import Foundation
import PierAPI
import PierCluster
import Testing

@testable import PierStack

/// A realistic gateway stack mapped field by field.
@Suite struct ComposeFileTests {
    static let yaml = """
        version: "3.8"
        name: plant
        x-common: &common
          stop_signal: SIGINT
        services:
          gpio:
            image: registry.local/gpio-sensor:1.2
            command: ["--pin", "17", "--interval", "${SAMPLE_INTERVAL:-500ms}"]
            devices:
              - /dev/gpiochip0
            environment:
              - SITE=${SITE}
              - DEBUG
              - UNSET_ONE
            volumes:
              - ./calibration:/etc/sensor:ro
            cap_add: [SYS_RAWIO]
            deploy:
              mode: global
              placement:
                constraints:
                  - node.labels.gpio == true
                  - node.platform.arch==aarch64
              resources:
                limits: {cpus: "0.25", memory: 32M, pids: 64}
                reservations: {memory: 16M}
              restart_policy: {condition: on-failure, delay: 2s, max_attempts: 5, window: 1m}
          api:
            <<: *common
            image: registry.local/coap-compute:2.0
            entrypoint: /usr/bin/compute
            command: serve --port 5683 "--name=edge api"
            environment:
              LOG_LEVEL: info
              WORKERS: 4
            ports:
              - "5683:5683/udp"
              - target: 8080
                published: 8080
                protocol: tcp
                mode: host
            healthcheck:
              test: ["CMD", "wget", "-q", "-O-", "http://localhost:8080/health"]
              interval: 10s
              timeout: 2s
              retries: 3
              start_period: 1m30s
            labels: {com.example.role: api}
            user: "1000:1000"
            working_dir: /srv
            hostname: api
            read_only: true
            cap_drop: [ALL]
            network_mode: bridge
            deploy:
              replicas: 3
              labels: [tier=edge]
              placement:
                preferences: [{spread: node.labels.zone}]
                max_replicas_per_node: 2
              resources:
                reservations: {cpus: 0.5, memory: 64M}
              update_config: {parallelism: 2, delay: 10s, failure_action: rollback, monitor: 30s, max_failure_ratio: 0.25, order: start-first}
              rollback_config: {parallelism: 0, failure_action: continue, order: stop-first}
        """

    static let environment = ["SITE": "plant-7", "DEBUG": "1"]

    @Test func mapsEveryFieldOfBothServices() throws {
        let file = try ComposeFile.parse(yaml: Self.yaml, directory: "/srv/stacks/plant", environment: Self.environment)
        #expect(file.name == "plant")
        #expect(file.services.map(\.name) == ["api", "gpio"])
        #expect(file.unsetVariables.isEmpty)

        let gpio = try #require(file.services.last)
        let expectedGPIO = ServiceSpec(
            name: "gpio",
            task: TaskTemplate(
                container: ContainerSpec(
                    image: "registry.local/gpio-sensor:1.2", command: ["--pin", "17", "--interval", "500ms"],
                    env: ["SITE=plant-7", "DEBUG=1"], volumes: ["/srv/stacks/plant/calibration:/etc/sensor:ro"],
                    devices: ["/dev/gpiochip0"], memory: "32m", cpus: 0.25, pidsLimit: 64, capAdd: ["SYS_RAWIO"]),
                placement: Placement(constraints: ["node.labels.gpio==true", "node.platform.arch==arm64"]),
                reservations: Resources(cpus: 0, memoryBytes: 16 << 20),
                restartPolicy: RestartPolicy(condition: .onFailure, delaySeconds: 2, maxAttempts: 5, windowSeconds: 60)),
            mode: .global)
        #expect(gpio == expectedGPIO)

        let api = try #require(file.services.first)
        let expectedAPI = ServiceSpec(
            name: "api", labels: ["tier": "edge"],
            task: TaskTemplate(
                container: ContainerSpec(
                    image: "registry.local/coap-compute:2.0", entrypoint: ["/usr/bin/compute"],
                    command: ["serve", "--port", "5683", "--name=edge api"], env: ["LOG_LEVEL=info", "WORKERS=4"],
                    workdir: "/srv", user: "1000:1000", hostname: "api", readOnly: true, network: "bridge",
                    publish: ["5683:5683/udp", "8080:8080"],
                    health: HealthCheckConfig(
                        command: ["wget", "-q", "-O-", "http://localhost:8080/health"], intervalSeconds: 10,
                        timeoutSeconds: 2, retries: 3, startPeriodSeconds: 90),
                    labels: ["com.example.role": "api"], capDrop: ["ALL"], stopSignal: "SIGINT"),
                placement: Placement(preferences: ["spread=node.labels.zone"], maxReplicasPerNode: 2),
                reservations: Resources(cpus: 0.5, memoryBytes: 64 << 20)),
            mode: .replicated(3),
            update: UpdateConfig(parallelism: 2, delaySeconds: 10, failureAction: .rollback, monitorSeconds: 30, maxFailureRatio: 0.25, order: .startFirst),
            rollback: UpdateConfig(parallelism: 0, failureAction: .continue, order: .stopFirst))
        #expect(api == expectedAPI)
    }

    @Test func stackNamespacesServicesAndLabelsThem() throws {
        let file = try ComposeFile.parse(yaml: Self.yaml, directory: "/srv/stacks/plant", environment: Self.environment)
        let stack = try StackDefinition(name: "plant", compose: file)
        #expect(stack.name == "plant")
        #expect(stack.services.map(\.name) == ["plant_api", "plant_gpio"])
        for spec in stack.services {
            #expect(spec.labels[StackDefinition.namespaceLabel] == "plant")
            #expect(spec.task.container.labels[StackDefinition.namespaceLabel] == "plant")
            #expect(StackDefinition.stackName(of: spec) == "plant")
        }
        #expect(stack.services[0].labels["tier"] == "edge")
        #expect(stack.services[0].task.container.labels["com.example.role"] == "api")
        // The spec survives the wire.
        let decoded = try JSONDecoder().decode(StackDefinition.self, from: JSONEncoder().encode(stack))
        #expect(decoded == stack)
    }

    @Test func defaultsAreSwarms() throws {
        let file = try ComposeFile.parse(yaml: "services:\n  web:\n    image: nginx\n", directory: "/tmp")
        let web = try #require(file.services.first)
        #expect(web == ServiceSpec(name: "web", task: TaskTemplate(container: ContainerSpec(image: "nginx"))))
        #expect(web.mode == .replicated(1))
        #expect(web.task.restartPolicy == RestartPolicy(condition: .any, delaySeconds: 5))
    }

    @Test func loadsFromFileResolvingBindMountsAgainstItsDirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pier-stack-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("sub/compose.yml")
        try """
            services:
              web:
                image: nginx
                volumes: ["./html:/usr/share/nginx/html:ro", "../logs:/var/log/nginx", ".:/cfg"]
            """.write(to: url, atomically: true, encoding: .utf8)
        let file = try ComposeFile.load(contentsOf: url, environment: [:])
        let base = dir.standardizedFileURL.path
        #expect(file.services.first?.task.container.volumes == [
            "\(base)/sub/html:/usr/share/nginx/html:ro", "\(base)/logs:/var/log/nginx", "\(base)/sub:/cfg",
        ])
    }

    @Test func stackLoadsFromAFileAndRefusesHugeOnes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pier-stack-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("compose.yml")
        try "services:\n  web:\n    image: nginx:${TAG}\n".write(to: url, atomically: true, encoding: .utf8)
        let stack = try StackDefinition.load(name: "site", contentsOf: url, environment: ["TAG": "1.27"])
        #expect(stack.services.map(\.name) == ["site_web"])
        #expect(stack.services.first?.task.container.image == "nginx:1.27")

        let huge = dir.appendingPathComponent("huge.yml")
        try Data(repeating: UInt8(ascii: "#"), count: (1 << 20) + 10).write(to: huge)
        #expect {
            _ = try ComposeFile.load(contentsOf: huge, environment: [:])
        } throws: { error in
            guard case .tooLarge = error as? StackError else { return false }
            return true
        }
        #expect {
            _ = try ComposeFile.load(contentsOf: URL(fileURLWithPath: "/dev/zero"), environment: [:])
        } throws: { error in
            guard case .tooLarge = error as? StackError else { return false }
            return true
        }
    }

    @Test func missingFileIsUnreadable() {
        let url = URL(fileURLWithPath: "/nonexistent/pier/compose.yml")
        #expect {
            _ = try ComposeFile.load(contentsOf: url, environment: [:])
        } throws: { error in
            guard case .unreadable(let path, _) = error as? StackError else { return false }
            return path == "/nonexistent/pier/compose.yml"
        }
    }
}

@Suite("Compose: isolation and resource keys")
struct ComposeIsolationTests {
    @Test func securityOptTmpfsUlimitsPrivilegedSysctlsInit() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pier-compose-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try #"{"defaultAction": "SCMP_ACT_ALLOW"}"#.write(to: dir.appendingPathComponent("profile.json"), atomically: true, encoding: .utf8)
        let yaml = """
            services:
              web:
                image: busybox
                security_opt: ["no-new-privileges:true", "seccomp:profile.json", "apparmor:unconfined"]
                tmpfs: /run:size=1m
                ulimits:
                  nofile: {soft: 1024, hard: 2048}
                  nproc: 64
                sysctls: {net.core.somaxconn: 1024}
                shm_size: 8m
                init: true
                deploy:
                  resources:
                    limits: {pids: -1}
              tool:
                image: busybox
                privileged: true
                tmpfs: [/a, /b]
            """
        let file = try ComposeFile.parse(yaml: yaml, directory: dir.path)
        let web = try #require(file.services.first { $0.name == "web" }).task.container
        #expect(web.securityOpt == ["no-new-privileges:true", #"seccomp={"defaultAction": "SCMP_ACT_ALLOW"}"#, "apparmor:unconfined"])
        #expect(web.tmpfs == ["/run:size=1m"])
        #expect(Set(web.ulimits) == ["nofile=1024:2048", "nproc=64"])
        #expect(web.sysctls == ["net.core.somaxconn": "1024"])
        #expect(web.shmSize == "\(8 << 20)")
        #expect(web.initProcess)
        #expect(web.pidsLimit == -1)
        let tool = try #require(file.services.first { $0.name == "tool" }).task.container
        #expect(tool.privileged && tool.tmpfs == ["/a", "/b"])
    }

    @Test func aMissingProfileFileIsAnError() {
        let yaml = "services:\n  web:\n    image: busybox\n    security_opt: [\"seccomp:/nonexistent/p.json\"]\n"
        #expect(throws: StackError.self) { try ComposeFile.parse(yaml: yaml, directory: "/tmp") }
    }

    @Test func usernsMode() throws {
        let yaml = "services:\n  a:\n    image: busybox\n    userns_mode: remap\n  b:\n    image: busybox\n    userns_mode: host\n    privileged: true\n"
        let file = try ComposeFile.parse(yaml: yaml, directory: "/tmp")
        #expect(file.services.first { $0.name == "a" }?.task.container.userns == "remap")
        #expect(file.services.first { $0.name == "b" }?.task.container.userns == "host")
        let bad = "services:\n  a:\n    image: busybox\n    userns_mode: keep-id\n"
        let error = #expect(throws: StackError.self) { try ComposeFile.parse(yaml: bad, directory: "/tmp") }
        #expect("\(error.map { "\($0)" } ?? "")".contains("services.a.userns_mode"))
    }
}

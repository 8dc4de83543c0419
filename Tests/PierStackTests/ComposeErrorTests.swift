import Testing

@testable import PierStack

@Suite struct ComposeErrorTests {
    @Test func everyUnsupportedKeyIsReportedByPathInOneError() throws {
        let yaml = """
            version: "3"
            networks: {backend: {}}
            services:
              web:
                image: nginx
                build: .
                restart: always
                depends_on: [db]
                deploy:
                  placement:
                    constraints: [node.role==worker]
                    zone: a
                  resources:
                    reservations:
                      devices: [{capabilities: [gpu]}]
                x-extension: ignored
              db:
                image: postgres
                env_file: .env
            x-top: ignored too
            """
        let p = problems(ofFile: yaml)
        #expect(p.map(\.path) == [
            "networks.backend",
            "services.db.env_file",
            "services.web.build",
            "services.web.depends_on",
            "services.web.deploy.placement.zone",
            "services.web.deploy.resources.reservations.devices",
            "services.web.restart",
        ])
        #expect(p.allSatisfy { $0.kind == .unsupported })
        #expect(p.first { $0.path == "services.web.build" }?.message.contains("pier image build") == true)
        #expect(p.first { $0.path == "services.web.restart" }?.message.contains("deploy.restart_policy") == true)

        // The whole error reads as one message listing them all.
        do {
            _ = try ComposeFile.parse(yaml: yaml, directory: "/")
        } catch {
            let text = error.description
            #expect(text.hasPrefix("compose file has 7 problems"))
            #expect(text.contains("networks.backend: only the stack's default network exists"))
        }
    }

    @Test func malformedValuesNameFieldAndValue() {
        let p = problems("""
            image: nginx
            read_only: maybe
            deploy:
              replicas: three
              mode: daemon
              restart_policy: {condition: sometimes, delay: soon, max_attempts: -1}
              update_config: {parallelism: 1.5, failure_action: explode, max_failure_ratio: 2, order: random, monitor: 5}
              rollback_config: {failure_action: rollback}
              resources:
                limits: {cpus: lots, memory: 64 elephants, pids: -5}
                reservations: {memory: 0}
              placement:
                constraints: [node.labels.zone=a, node.color==red]
                preferences: [{spread: zone}]
                max_replicas_per_node: -1
            """)
        let byPath = Dictionary(p.map { ($0.path, $0.message) }, uniquingKeysWith: { a, _ in a })
        let d = "services.web.deploy"
        #expect(byPath["\(d).replicas"] == "\"three\" is not a number")
        #expect(byPath["\(d).mode"] == "\"daemon\" is not one of replicated, global")
        #expect(byPath["services.web.read_only"] == "\"maybe\" is not true or false")
        #expect(byPath["\(d).restart_policy.condition"] == "\"sometimes\" is not one of none, on-failure, any")
        #expect(byPath["\(d).restart_policy.delay"]?.hasPrefix("\"soon\" is not a duration") == true)
        #expect(byPath["\(d).restart_policy.max_attempts"] != nil)
        #expect(byPath["\(d).update_config.parallelism"] == "\"1.5\" is not a number")
        #expect(byPath["\(d).update_config.failure_action"] == "\"explode\" is not one of pause, continue, rollback")
        #expect(byPath["\(d).update_config.max_failure_ratio"]?.contains("out of range") == true)
        #expect(byPath["\(d).update_config.order"] == "\"random\" is not one of stop-first, start-first")
        #expect(byPath["\(d).update_config.monitor"]?.hasPrefix("\"5\" is not a duration") == true)
        #expect(byPath["\(d).rollback_config.failure_action"] == "\"rollback\" is not one of pause, continue")
        #expect(byPath["\(d).resources.limits.cpus"]?.hasPrefix("\"lots\" is not a number") == true)
        #expect(byPath["\(d).resources.limits.memory"]?.hasPrefix("\"64 elephants\" is not a memory size") == true)
        #expect(byPath["\(d).resources.limits.pids"] != nil)
        #expect(byPath["\(d).resources.reservations.memory"] != nil)
        #expect(byPath["\(d).placement.constraints[0]"]?.contains("node.labels.zone=a") == true)
        #expect(byPath["\(d).placement.constraints[1]"]?.contains("unknown key \"node.color\"") == true)
        #expect(byPath["\(d).placement.preferences[0].spread"] != nil)
        #expect(byPath["\(d).placement.max_replicas_per_node"] != nil)
        #expect(p.count == 20)
        #expect(p.allSatisfy { $0.kind == .invalid })
    }

    @Test func wrongTypesAreNamed() {
        let p = problems("""
            image: [nginx]
            command: {run: it}
            environment: FOO=bar
            ports: "80:80"
            labels: 5
            deploy: replicated
            """)
        let byPath = Dictionary(p.map { ($0.path, $0.message) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath["services.web.image"]?.contains("found a list") == true)
        #expect(byPath["services.web.command"]?.contains("found a mapping") == true)
        #expect(byPath["services.web.environment"]?.contains("\"FOO=bar\"") == true)
        #expect(byPath["services.web.ports"]?.contains("expected a list of ports") == true)
        #expect(byPath["services.web.labels"] != nil)
        #expect(byPath["services.web.deploy"]?.contains("expected a mapping") == true)
        #expect(p.count == 6)
    }

    @Test func emptyListItemsAreNotDroppedSilently() {
        #expect(problems("image: a\ncap_add: [NET_ADMIN, ~]").map(\.path) == ["services.web.cap_add[1]"])
        #expect(problems("image: a\nhealthcheck:\n  test: [CMD, ~]").map(\.path) == ["services.web.healthcheck.test[1]"])
        #expect(problems("image: a\ndeploy:\n  placement:\n    constraints: [\"\"]").map(\.path) == ["services.web.deploy.placement.constraints[0]"])
    }

    @Test func missingImage() {
        #expect(problems("command: [true]").map(\.path) == ["services.web.image"])
        #expect(problems("image:").map(\.path) == ["services.web.image"])
        #expect(problems("image: \"\"").map(\.path) == ["services.web.image"])
    }

    @Test func globalWithReplicasAndJobsAreRefused() {
        #expect(problems("image: a\ndeploy: {mode: global, replicas: 2}").map(\.path) == ["services.web.deploy.replicas"])
        let job = problems("image: a\ndeploy: {mode: replicated-job}")
        #expect(job.map(\.path) == ["services.web.deploy.mode"])
        #expect(job.first?.kind == .unsupported)
    }

    @Test func networkModesOtherThanBridgeHostNoneAreRefused() {
        #expect(problems("image: a\nnetwork_mode: \"service:db\"").map(\.path) == ["services.web.network_mode"])
    }

    @Test func badServiceNames() {
        for name in ["Web", "web_1", "-web", "web-", "w.eb", String(repeating: "a", count: 64)] {
            let p = problems(ofFile: "services:\n  \"\(name)\":\n    image: a\n")
            #expect(p.map(\.path) == ["services.\(name)"], "service name \(name)")
            #expect(p.first?.message.contains("service name") == true)
        }
    }

    @Test func topLevelMistakes() {
        #expect(problems(ofFile: "version: 3\n").map(\.path) == ["services"])
        #expect(problems(ofFile: "services: {}\n").map(\.path) == ["services"])
        #expect(problems(ofFile: "services: [web]\n").map(\.path) == ["services"])
        #expect(problems(ofFile: "name: My_Stack\nservices:\n  web:\n    image: a\n").map(\.path) == ["name"])
        #expect(problems(ofFile: "services:\n  web: nginx\n").map(\.path) == ["services.web"])
    }

    @Test func yamlThatIsNotAMappingIsRefused() {
        for text in ["- a\n- b\n", "just a string\n", "42\n"] {
            #expect {
                _ = try ComposeFile.parse(yaml: text, directory: "/")
            } throws: { error in
                guard case .malformed(let m) = error as? StackError else { return false }
                return m.contains("must be a mapping")
            }
        }
        for text in ["", "# only a comment\n"] {
            #expect(throws: StackError.malformed("compose file is empty; it needs at least a services: mapping")) {
                _ = try ComposeFile.parse(yaml: text, directory: "/")
            }
        }
        for text in ["services: [\n", "services:\n  web:\n    image: a\n  web:\n    image: b\n", "a: b\n---\nc: d\n", "key: \"unterminated\n", "a: *nowhere\n"] {
            #expect {
                _ = try ComposeFile.parse(yaml: text, directory: "/")
            } throws: { error in
                guard case .malformed(let m) = error as? StackError else { return false }
                return m.hasPrefix("compose file")
            }
        }
    }

    @Test func stackNamesAreValidatedAndTheNamespaceLabelIsReserved() throws {
        let file = try ComposeFile.parse(yaml: "services:\n  web:\n    image: a\n", directory: "/")
        for bad in ["", "Plant", "plant_1", "plant.1", "-plant"] {
            #expect(throws: StackError.self) { _ = try StackDefinition(name: bad, compose: file) }
        }
        #expect(try StackDefinition(name: "plant-1", compose: file).services.map(\.name) == ["plant-1_web"])
        let reserved = try ComposeFile.parse(
            yaml: "services:\n  web:\n    image: a\n    labels: {pier.stack.namespace: other}\n", directory: "/")
        #expect {
            _ = try StackDefinition(name: "plant", compose: reserved)
        } throws: { error in
            (error as? StackError)?.problems.map(\.path) == ["services.web.labels"]
        }
    }
}

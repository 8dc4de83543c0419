import PierSpec
import PierAPI
import PierCluster
import Testing

@testable import PierStack

@Suite struct ComposeFormsTests {
    // MARK: command and entrypoint

    @Test func commandStringIsSplitLikeAShell() throws {
        let s = try service(#"""
            image: alpine
            command: sh -c 'echo "hello world" && sleep 1' "a b" c\ d ""
            """#)
        #expect(s.task.container.command == ["sh", "-c", #"echo "hello world" && sleep 1"#, "a b", "c d", ""])
    }

    @Test func commandListIsTakenAsIs() throws {
        let s = try service("""
            image: alpine
            command: ["echo", "$$HOME", "a b", 8080, true]
            entrypoint: [/bin/sh, -c]
            """)
        #expect(s.task.container.command == ["echo", "$HOME", "a b", "8080", "true"])
        #expect(s.task.container.entrypoint == ["/bin/sh", "-c"])
    }

    @Test func emptyEntrypointClearsTheImagesAndAbsentLeavesIt() throws {
        #expect(try service("image: alpine\nentrypoint: \"\"").task.container.entrypoint == [])
        #expect(try service("image: alpine\nentrypoint: []").task.container.entrypoint == [])
        #expect(try service("image: alpine").task.container.entrypoint == nil)
    }

    @Test func doubleQuotesKeepBackslashesThatEscapeNothing() throws {
        let s = try service(#"""
            image: alpine
            command: 'printf "a\tb\"c\\d"'
            """#)
        #expect(s.task.container.command == ["printf", #"a\tb"c\d"#])
    }

    @Test func unclosedQuoteNamesTheField() {
        let p = problems("image: alpine\ncommand: echo \"oops")
        #expect(p.map(\.path) == ["services.web.command"])
        #expect(p.first?.message.contains("never closed") == true)
    }

    // MARK: environment

    @Test func environmentListAndBareNames() throws {
        let s = try service("""
            image: alpine
            environment:
              - A=1
              - B=x=y
              - EMPTY=
              - FROM_HOST
              - MISSING
              - A=2
            """, environment: ["FROM_HOST": "host value"])
        #expect(s.task.container.env == ["A=2", "B=x=y", "EMPTY=", "FROM_HOST=host value"])
    }

    @Test func environmentMappingKeepsValuesAsWritten() throws {
        let s = try service("""
            image: alpine
            environment:
              PORT: 8080
              RATIO: 0.50
              ENABLED: yes
              QUOTED: "with spaces"
              FROM_HOST:
              NULLED: null
            """, environment: ["FROM_HOST": "h", "NULLED": "n"])
        #expect(s.task.container.env == ["PORT=8080", "RATIO=0.50", "ENABLED=yes", "QUOTED=with spaces", "FROM_HOST=h", "NULLED=n"])
    }

    @Test func environmentBadNamesAreRefused() {
        let p = problems("image: alpine\nenvironment:\n  - \"=value\"\n  - \"A B=1\"")
        #expect(p.map(\.path) == ["services.web.environment[0]", "services.web.environment[1]"])
    }

    // MARK: ports

    @Test func portShortForms() throws {
        let s = try service("""
            image: nginx
            ports:
              - "8080:80"
              - 8443:443/tcp
              - "5683:5683/udp"
              - "127.0.0.1:9090:90"
              - "127.0.0.1:9091:91/udp"
            """)
        #expect(s.task.container.publish == ["8080:80", "8443:443", "5683:5683/udp", "127.0.0.1:9090:90", "127.0.0.1:9091:91/udp"])
    }

    @Test func portLongForm() throws {
        let s = try service("""
            image: nginx
            ports:
              - target: 80
                published: "8080"
              - {target: 5683, published: 5683, protocol: udp, mode: host, host_ip: 10.0.0.2}
            """)
        #expect(s.task.container.publish == ["8080:80", "10.0.0.2:5683:5683/udp"])
    }

    @Test func portRangesRandomHostPortsAndIngressAreRefusedClearly() {
        let p = problems("""
            image: nginx
            ports:
              - "8000-8010:8000-8010"
              - "80"
              - 81
              - "127.0.0.1::82"
              - "8080:80/sctp"
              - "70000:80"
              - {target: 80, published: 8081, mode: ingress}
              - {target: 80}
              - "8082:80"
              - "8082:81"
            """)
        #expect(p.map(\.path) == (0...7).map { "services.web.ports[\($0)]" }.map { i in
            i.hasSuffix("[6]") ? "\(i).mode" : i.hasSuffix("[7]") ? "\(i).published" : i
        } + ["services.web.ports[9]"])
        #expect(p[0].message.contains("port ranges are not supported"))
        #expect(p[1].message.contains("publishes no host port"))
        #expect(p[4].message.contains("sctp"))
        #expect(p[5].message.contains("1 to 65535"))
        #expect(p[6].message.contains("routing mesh"))
        #expect(p[8].message.contains("already published by services.web.ports[8]"))
    }

    @Test func portsNeedTheBridgeNetwork() {
        let p = problems("image: nginx\nnetwork_mode: host\nports: [\"80:80\"]")
        #expect(p.map(\.path) == ["services.web.ports"])
    }

    // MARK: healthcheck

    @Test func healthcheckCMD() throws {
        let s = try service("image: nginx\nhealthcheck:\n  test: [\"CMD\", \"curl\", \"-f\", \"http://localhost\"]")
        #expect(s.task.container.health == HealthCheckConfig(command: ["curl", "-f", "http://localhost"]))
    }

    @Test func healthcheckCMDShellAndStringRunWithAShell() throws {
        let shell = try service("image: nginx\nhealthcheck:\n  test: [\"CMD-SHELL\", \"curl -f http://localhost || exit 1\"]\n  retries: 5")
        #expect(shell.task.container.health == HealthCheckConfig(command: ["curl -f http://localhost || exit 1"], retries: 5))
        let string = try service("image: nginx\nhealthcheck:\n  test: curl -f http://localhost || exit 1\n  interval: 500ms\n  timeout: 1m\n  start_period: 1h")
        #expect(string.task.container.health == HealthCheckConfig(
            command: ["curl -f http://localhost || exit 1"], intervalSeconds: 0.5, timeoutSeconds: 60, startPeriodSeconds: 3600))
    }

    @Test func healthcheckNoneAndDisable() throws {
        #expect(try service("image: nginx\nhealthcheck:\n  test: [\"NONE\"]").task.container.health == nil)
        #expect(try service("image: nginx\nhealthcheck:\n  disable: true").task.container.health == nil)
    }

    @Test func healthcheckMistakes() {
        let p = problems("""
            image: nginx
            healthcheck:
              test: ["RUN", "true"]
              interval: 10
              retries: 0
              start_interval: 1s
            """)
        #expect(p.map(\.path) == [
            "services.web.healthcheck.interval", "services.web.healthcheck.retries",
            "services.web.healthcheck.start_interval", "services.web.healthcheck.test",
        ])
        #expect(p.first { $0.path.hasSuffix("interval") }?.message == "\"10\" is not a duration; expected a duration such as 10s, 1m30s, 500ms or 1h")
        #expect(p.first { $0.path.hasSuffix("start_interval") }?.kind == .unsupported)
        #expect(problems("image: nginx\nhealthcheck:\n  test: [CMD]").map(\.path) == ["services.web.healthcheck.test"])
        #expect(problems("image: nginx\nhealthcheck:\n  interval: 5s").map(\.path) == ["services.web.healthcheck.test"])
        #expect(problems("image: nginx\nhealthcheck:\n  test: true\n  disable: true").map(\.path) == ["services.web.healthcheck.disable"])
    }

    // MARK: volumes and devices

    @Test func volumeForms() throws {
        let s = try service("""
            image: nginx
            volumes:
              - /srv/data:/data
              - ./conf//nginx/:/etc/nginx/:ro
              - "../shared:/shared:rw"
              - type: bind
                source: ./certs
                target: /certs
                read_only: true
            """)
        #expect(s.task.container.volumes == ["/srv/data:/data", "/srv/stack/conf/nginx:/etc/nginx:ro", "/srv/shared:/shared", "/srv/stack/certs:/certs:ro"])
    }

    @Test func namedAnonymousAndOtherVolumesAreRefused() {
        let p = problems("""
            image: nginx
            volumes:
              - data:/data
              - /anonymous
              - ~/x:/x
              - /a:relative
              - /a:/b:z
              - {type: volume, source: data, target: /data}
              - {type: tmpfs, target: /tmp}
              - /c:/d
              - /e:/d
            """)
        #expect(p.map(\.path) == [
            "services.web.volumes[0]", "services.web.volumes[1]", "services.web.volumes[2]", "services.web.volumes[3]",
            "services.web.volumes[4]", "services.web.volumes[5].type", "services.web.volumes[6].type",
            "services.web.volumes[8]",
        ])
        #expect(p[0].message.contains("named volume"))
        #expect(p[1].message.contains("anonymous volume"))
    }

    @Test func devices() throws {
        let s = try service("image: alpine\ndevices: [/dev/gpiochip0, \"/dev/ttyUSB0:/dev/ttyS0:rw\"]")
        #expect(s.task.container.devices == ["/dev/gpiochip0", "/dev/ttyUSB0:/dev/ttyS0:rw"])
        #expect(problems("image: alpine\ndevices: [gpiochip0, \"/dev/a:/dev/b:rwx\"]").map(\.path) == [
            "services.web.devices[0]", "services.web.devices[1]",
        ])
    }

    // MARK: other service keys and deploy

    @Test func labelsListFormAndBooleans() throws {
        let s = try service("image: alpine\nlabels: [a=1, b]\nread_only: \"false\"\ndeploy:\n  labels: {x: y}")
        #expect(s.task.container.labels == ["a": "1", "b": ""])
        #expect(s.task.container.readOnly == false)
        #expect(s.labels == ["x": "y"])
    }

    @Test func memoryAndDurationUnits() throws {
        let s = try service("""
            image: alpine
            deploy:
              resources:
                limits: {memory: 1g, cpus: 2}
                reservations: {memory: 1572864, cpus: "0.1"}
              restart_policy: {delay: 1m30s, window: 0s, max_attempts: 0}
            """)
        #expect(s.task.container.memory == "1g")
        #expect(s.task.container.cpus == 2)
        #expect(s.task.reservations == Resources(cpus: 0.1, memoryBytes: 1_572_864))
        #expect(s.task.restartPolicy == RestartPolicy(condition: .any, delaySeconds: 90, maxAttempts: nil, windowSeconds: nil))
        #expect(try service("image: a\ndeploy:\n  resources:\n    limits: {memory: 6500k}").task.container.memory == "6500k")
        #expect(try service("image: a\ndeploy:\n  resources:\n    limits: {memory: 10000001}").task.container.memory == "10000001")
    }

    @Test func numbersMayComeFromVariables() throws {
        let s = try service("image: alpine\ndeploy:\n  replicas: ${N:-2}", environment: ["N": "5"])
        #expect(s.mode == .replicated(5))
    }
}

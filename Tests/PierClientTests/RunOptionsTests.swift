import PierSpec
import Foundation
import PierAPI
import Testing
@testable import PierClient

@Suite("pier run options → ContainerSpec")
struct RunOptionsTests {
    func request(_ options: RunOptions, environment: [String: String] = [:], files: [String: String] = [:]) throws -> ContainerSpec {
        try options.makeRequest(environment: environment) { path in
            guard let text = files[path] else { throw CocoaError(.fileNoSuchFile) }
            return text
        }
    }

    @Test func everyFlagLandsInItsField() throws {
        var o = RunOptions(image: "sensor:1.0", command: ["ls", "-l", "--color"])
        o.autoRemove = true; o.name = "probe"; o.env = ["A=1"]; o.workdir = "/srv"; o.user = "1000:1000"
        o.hostname = "gw"; o.readOnly = true; o.volumes = ["/data:/data:ro"]; o.devices = ["/dev/gpiochip0"]
        o.memory = "64m"; o.cpus = 0.5; o.pidsLimit = 50; o.network = "bridge"; o.publish = ["5683:5683/udp"]
        o.restart = "on-failure:3"; o.labels = ["tier=edge", "flag"]; o.capAdd = ["NET_ADMIN"]; o.capDrop = ["ALL"]
        o.entrypoint = "/bin/sh"; o.stopSignal = "SIGINT"; o.logOpts = ["max-size=10m", "max-file=3"]
        o.healthCmd = "wget -q -O- localhost"; o.healthInterval = "1m30s"; o.healthTimeout = "500ms"
        o.healthRetries = 5; o.healthStartPeriod = "0s"
        let expected = ContainerSpec(
            image: "sensor:1.0", name: "probe", entrypoint: ["/bin/sh"], command: ["ls", "-l", "--color"], env: ["A=1"],
            workdir: "/srv", user: "1000:1000", hostname: "gw", readOnly: true, volumes: ["/data:/data:ro"],
            devices: ["/dev/gpiochip0"], memory: "64m", cpus: 0.5, pidsLimit: 50, network: "bridge",
            publish: ["5683:5683/udp"], restart: "on-failure:3",
            health: HealthCheckConfig(command: ["wget -q -O- localhost"], intervalSeconds: 90, timeoutSeconds: 0.5,
                                      retries: 5, startPeriodSeconds: 0),
            labels: ["tier": "edge", "flag": ""], capAdd: ["NET_ADMIN"], capDrop: ["ALL"], autoRemove: true,
            logMaxSize: 10 << 20, logMaxFiles: 3, stopSignal: "SIGINT")
        #expect(try request(o) == expected)
    }

    @Test func defaultsAreEmpty() throws {
        #expect(try request(RunOptions(image: "busybox")) == ContainerSpec(image: "busybox"))
    }

    @Test func emptyEntrypointClearsIt() throws {
        var o = RunOptions(image: "busybox")
        o.entrypoint = ""
        #expect(try request(o).entrypoint == [])
    }

    @Test func healthDefaultsWhenOnlyTheCommandIsGiven() throws {
        var o = RunOptions(image: "busybox")
        o.healthCmd = "true"
        #expect(try request(o).health == HealthCheckConfig(command: ["true"], intervalSeconds: 30, timeoutSeconds: 30, retries: 3, startPeriodSeconds: 0))
    }

    @Test(arguments: [
        ("--health-interval", "abc"), ("--health-interval", "0s"), ("--health-timeout", "10"), ("--health-start-period", "-1s"),
    ] as [(String, String)])
    func badHealthDurationsAreRefusedNamingTheFlag(flag: String, value: String) throws {
        var o = RunOptions(image: "busybox")
        o.healthCmd = "true"
        switch flag {
        case "--health-interval": o.healthInterval = value
        case "--health-timeout": o.healthTimeout = value
        default: o.healthStartPeriod = value
        }
        let error = #expect(throws: ClientError.self) { try request(o) }
        #expect(error?.description.contains(flag) == true)
        #expect(error?.description.contains(value) == true)
    }

    @Test func healthOptionsWithoutACommandAreRefused() {
        var o = RunOptions(image: "busybox")
        o.healthInterval = "10s"
        let error = #expect(throws: ClientError.self) { try request(o) }
        #expect(error?.description == "--health-interval needs --health-cmd: give the command that checks the container")
    }

    @Test func envFilesComeFirstThenFlags() throws {
        var o = RunOptions(image: "busybox")
        o.envFiles = ["app.env"]
        o.env = ["MODE=test", "HOME_DIR", "UNSET_VAR"]
        let file = """
        # settings
        MODE=prod

          QUOTED="kept as is"
        TOKEN
        WINDOWS=crlf\r
        EMPTY=
        """
        let env = try request(o, environment: ["HOME_DIR": "/root", "TOKEN": "s3cret"], files: ["app.env": file]).env
        #expect(env == ["MODE=prod", "QUOTED=\"kept as is\"", "TOKEN=s3cret", "WINDOWS=crlf", "EMPTY=", "MODE=test", "HOME_DIR=/root"])
    }

    @Test func envFileWithWhitespaceInANameIsRefusedWithItsLine() {
        var o = RunOptions(image: "busybox")
        o.envFiles = ["bad.env"]
        let error = #expect(throws: ClientError.self) { try request(o, files: ["bad.env": "OK=1\nBAD NAME=2\n"]) }
        #expect(error?.description == "bad.env line 2: variable name \"BAD NAME\" contains whitespace")
    }

    @Test func missingEnvFileIsAnError() {
        var o = RunOptions(image: "busybox")
        o.envFiles = ["/nonexistent.env"]
        let error = #expect(throws: ClientError.self) { try request(o) }
        #expect(error?.description.hasPrefix("/nonexistent.env: cannot read the --env-file") == true)
    }

    @Test(arguments: [
        (["max-size=10m"], 10 << 20, nil), (["max-size=512k", "max-file=1"], 512 << 10, 1), (["max-size=1g"], 1 << 30, nil),
        (["max-size=4096"], 4096, nil), (["max-file=7"], nil, 7), (["max-size=1.5MiB"], 1_572_864, nil),
    ] as [([String], Int?, Int?)])
    func logOptions(options: [String], size: Int?, files: Int?) throws {
        var o = RunOptions(image: "busybox")
        o.logOpts = options
        let r = try request(o)
        #expect(r.logMaxSize == size)
        #expect(r.logMaxFiles == files)
    }

    @Test(arguments: ["max-size=ten", "max-file=0", "max-file=x", "mode=non-blocking", "max-size"])
    func badLogOptionsAreRefused(option: String) {
        var o = RunOptions(image: "busybox")
        o.logOpts = [option]
        let error = #expect(throws: ClientError.self) { try request(o) }
        #expect(error?.description.hasPrefix("--log-opt") == true)
    }

    @Test func nonPositiveLimitsAreRefused() throws {
        var o = RunOptions(image: "busybox")
        o.cpus = 0
        #expect(throws: ClientError.self) { try request(o) }
        o.cpus = nil
        o.pidsLimit = -2
        #expect(throws: ClientError.self) { try request(o) }
        for unlimited in [0, -1] {
            o.pidsLimit = unlimited
            #expect(try request(o).pidsLimit == unlimited, "0 and -1 lift the default pids limit, as Docker's")
        }
    }

    @Test func securityFlagsReachTheRequest() throws {
        var o = RunOptions(image: "busybox")
        o.initProcess = true; o.tmpfs = ["/run"]; o.mounts = ["type=tmpfs,target=/x"]
        o.ulimits = ["nofile=10"]; o.shmSize = "8m"; o.sysctls = ["net.core.somaxconn=100"]
        o.securityOpts = ["no-new-privileges", "seccomp=/profiles/p.json"]
        let r = try RunOptionsTests.requestReading(o) { path in path == "/profiles/p.json" ? #"{"defaultAction":"SCMP_ACT_ALLOW"}"# : "" }
        #expect(r.initProcess && r.tmpfs == ["/run"] && r.mounts == ["type=tmpfs,target=/x"])
        #expect(r.ulimits == ["nofile=10"] && r.shmSize == "8m" && r.sysctls == ["net.core.somaxconn": "100"])
        #expect(r.securityOpt == ["no-new-privileges", #"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#])
        o.securityOpts = ["seccomp=unconfined"]; o.privileged = true
        #expect(try RunOptionsTests.requestReading(o) { _ in "" }.privileged)
        // The model's checks run in the client: two seccomp options are refused before any request.
        o.securityOpts = ["seccomp=/profiles/p.json", "seccomp=unconfined"]; o.privileged = false
        #expect(throws: ClientError.self) { try RunOptionsTests.requestReading(o) { _ in #"{"defaultAction":"SCMP_ACT_ALLOW"}"# } }
        o.securityOpts = ["seccomp=/missing.json"]
        let error = #expect(throws: ClientError.self) { try RunOptionsTests.requestReading(o) { _ in throw CocoaError(.fileNoSuchFile) } }
        #expect(error?.description.contains("/missing.json") == true)
        o.securityOpts = []
        o.sysctls = ["a=1", "a=2"]
        #expect(throws: ClientError.self) { try request(o) }
    }

    static func requestReading(_ o: RunOptions, _ read: (String) throws -> String) throws -> ContainerSpec {
        try o.makeRequest(environment: [:], readFile: read)
    }

    @Test func usernsReachesTheRequest() throws {
        var o = RunOptions(image: "busybox")
        #expect(try request(o).userns == nil, "nil: the node's default")
        o.userns = "remap"
        #expect(try request(o).userns == "remap")
        o.userns = "auto"
        let error = #expect(throws: ClientError.self) { try request(o) }
        #expect(error?.description == "invalid --userns \"auto\": use host or remap")
    }
}

@Suite("Go-style durations")
struct GoDurationTests {
    @Test(arguments: [
        ("30s", 30.0), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600), ("1.5h", 5400), ("0", 0), ("2m", 120),
        ("100us", 0.0001), ("1h2m3s", 3723), ("-5s", -5), ("10ns", 1e-8),
    ] as [(String, Double)])
    func parses(text: String, seconds: Double) {
        let parsed = GoDuration.seconds(text)
        #expect(parsed != nil)
        #expect(abs((parsed ?? .nan) - seconds) < 1e-12)
    }

    @Test(arguments: ["", "30", "s", "1x", "1m30", ".s", "1 s", "abc"])
    func refuses(text: String) {
        #expect(GoDuration.seconds(text) == nil)
    }
}

import PierSpec
import Foundation
import PierAPI
import Testing
@testable import PierClient

@Suite("Sizes, durations and status words")
struct FormattingTests {
    @Test(arguments: [
        (0, "0B"), (980, "980B"), (1000, "1kB"), (12_345, "12.3kB"), (12_300_000, "12.3MB"), (456_789_012, "457MB"),
        (1_500_000_000, "1.5GB"),
    ] as [(Int64, String)])
    func humanSizes(bytes: Int64, text: String) {
        #expect(ByteSize.human(bytes) == text)
    }

    @Test(arguments: [(1_572_864, "1.5MiB"), (2_087_354_368, "1.944GiB"), (512, "512B"), (65_536, "64KiB")] as [(UInt64, String)])
    func binarySizes(bytes: UInt64, text: String) {
        #expect(ByteSize.binary(bytes) == text)
    }

    @Test(arguments: [
        ("10m", 10_485_760), ("512k", 524_288), ("1g", 1_073_741_824), ("64MiB", 67_108_864), ("100", 100),
        ("1.5k", 1536), ("2 MB", 2_097_152),
    ] as [(String, Int64)])
    func parsesBinarySizes(text: String, bytes: Int64) {
        #expect(MemorySize.parse(text) == bytes)
    }

    @Test(arguments: ["", "m", "10x", "-1m", "1mb2"])
    func refusesBadSizes(text: String) {
        #expect(MemorySize.parse(text) == nil)
    }

    @Test(arguments: [
        (0.4, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"), (119, "About a minute"),
        (180, "3 minutes"), (3599, "59 minutes"), (3600, "About an hour"), (5400, "2 hours"), (47 * 3600, "47 hours"),
        (3 * 86400, "3 days"), (20 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years"),
    ] as [(Double, String)])
    func humanDurations(seconds: Double, text: String) {
        #expect(HumanDuration.describe(seconds: seconds) == text)
    }

    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    static func container(state: ContainerState, started: Double? = nil, finished: Double? = nil, exit: Int32? = nil,
                          health: HealthStatus = .none) -> ContainerSummary {
        ContainerSummary(id: "0123456789abcdef0123", name: "probe", image: "busybox:latest", imageDigest: "sha256:aa",
                         command: "sleep 1000", created: now.addingTimeInterval(-600), state: state,
                         startedAt: started.map { now.addingTimeInterval(-$0) },
                         finishedAt: finished.map { now.addingTimeInterval(-$0) }, exitCode: exit, health: health,
                         restartCount: 0, network: "bridge", ports: [], labels: [:])
    }

    @Test func statusWords() {
        typealias C = FormattingTests
        #expect(ContainerStatus.describe(C.container(state: .running, started: 180), now: C.now) == "Up 3 minutes")
        #expect(ContainerStatus.describe(C.container(state: .running, started: 180, health: .healthy), now: C.now) == "Up 3 minutes (healthy)")
        #expect(ContainerStatus.describe(C.container(state: .running, started: 5, health: .starting), now: C.now) == "Up 5 seconds (health: starting)")
        #expect(ContainerStatus.describe(C.container(state: .running, started: 0.2, health: .unhealthy), now: C.now) == "Up Less than a second (unhealthy)")
        #expect(ContainerStatus.describe(C.container(state: .exited, started: 10, finished: 2, exit: 1), now: C.now) == "Exited (1) 2 seconds ago")
        #expect(ContainerStatus.describe(C.container(state: .restarting, started: 10, finished: 4, exit: 1), now: C.now) == "Restarting (1) 4 seconds ago")
        #expect(ContainerStatus.describe(C.container(state: .created), now: C.now) == "Created")
        #expect(ContainerStatus.describe(C.container(state: .dead), now: C.now) == "Dead")
    }

    @Test func psTableIsAlignedLikeDocker() {
        var web = Self.container(state: .running, started: 180, health: .healthy)
        web.name = "web"; web.ports = ["0.0.0.0:8080->80/tcp", "0.0.0.0:5683->5683/udp"]
        web.command = "/usr/local/bin/server --port 80"
        var job = Self.container(state: .exited, started: 100, finished: 2, exit: 1)
        job.id = "fedcba9876543210"; job.name = "job"; job.image = "sensor:1.0"; job.command = "true"
        let text = ContainerListing.table([web, job], now: Self.now).rendered()
        let expected = """
        CONTAINER ID   IMAGE            COMMAND                  CREATED          STATUS                     PORTS                                          NAMES
        0123456789ab   busybox:latest   "/usr/local/bin/serv…"   10 minutes ago   Up 3 minutes (healthy)     0.0.0.0:8080->80/tcp, 0.0.0.0:5683->5683/udp   web
        fedcba987654   sensor:1.0       "true"                   10 minutes ago   Exited (1) 2 seconds ago                                                  job

        """
        #expect(text == expected)
    }

    @Test func narrowColumnsAreTenWide() {
        let text = TextTable(header: ["A", "B"], rows: [["x", "y"]]).rendered()
        #expect(text == "A         B\nx         y\n")
    }

    @Test func imageTableSplitsRepositoryAndTag() {
        let images = [
            ImageSummary(tags: ["localhost:5000/sensor:1.0", "sensor:latest"], digest: "sha256:" + String(repeating: "ab", count: 32),
                         platform: "linux/amd64", size: 12_345_678, sharedSize: 0, layers: 2, created: Self.now.addingTimeInterval(-7200)),
            ImageSummary(tags: [], digest: "sha256:" + String(repeating: "cd", count: 32), platform: "linux/amd64", size: 999,
                         sharedSize: 0, layers: 1, created: nil),
        ]
        let text = ImageListing.table(images, now: Self.now).rendered()
        let expected = """
        REPOSITORY              TAG       IMAGE ID       CREATED       SIZE
        localhost:5000/sensor   1.0       abababababab   2 hours ago   12.3MB
        sensor                  latest    abababababab   2 hours ago   12.3MB
        <none>                  <none>    cdcdcdcdcdcd   N/A           999B

        """
        #expect(text == expected)
    }

    @Test func statsTableUsesHostMemoryWhenUnlimited() {
        let stats = [
            ContainerStats(id: "0123456789abcdef", name: "web", cpuPercent: 12.345, cpuTotalNanoseconds: 1, memoryBytes: 1_572_864,
                           memoryLimitBytes: 67_108_864, pids: 3, read: Self.now),
            ContainerStats(id: "fedcba9876543210", name: "job", cpuPercent: 0, cpuTotalNanoseconds: 1, memoryBytes: 1_048_576,
                           memoryLimitBytes: nil, pids: 1, read: Self.now),
        ]
        let text = StatsListing.table(stats, hostMemory: 2_087_354_368).rendered()
        let expected = """
        CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     PIDS
        0123456789ab   web       12.35%    1.5MiB / 64MiB      2.34%     3
        fedcba987654   job       0.00%     1MiB / 1.944GiB     0.05%     1

        """
        #expect(text == expected)
    }

    @Test func diskUsageTotalsShowWhatSharingSaved() {
        let usage = DiskUsage(images: [], contentStoreBytes: 10_000_000, unpackedLayerBytes: 25_000_000, unsharedTotalBytes: 18_000_000)
        let text = ImageListing.diskUsageTotals(usage)
        #expect(text.contains("Content store:     10MB"))
        #expect(text.contains("Saved by sharing:  8MB"))
    }

    @Test func jsonListingsAreArraysWithISODates() throws {
        let text = try JSONOutput.render([Self.container(state: .created)])
        #expect(text.hasPrefix("["))
        #expect(text.contains("\"created\" : \"2023-11-14T22:03:20Z\""))
        let decoded = try WireCoding.decoder().decode([ContainerSummary].self, from: Data(text.utf8))
        #expect(decoded == [Self.container(state: .created)])
    }

    @Test func emptyListingIsAnEmptyArray() throws {
        #expect(try JSONOutput.render([ContainerSummary]()) == "[]\n")
    }

    @Test func decoderAcceptsFractionalSeconds() throws {
        let json = #"{"exitCode": 0, "when": "2024-05-01T12:00:00.250Z"}"#
        struct Sample: Decodable { var when: Date }
        let sample = try WireCoding.decoder().decode(Sample.self, from: Data(json.utf8))
        #expect(sample.when.timeIntervalSince1970 == 1_714_564_800.25)
    }

    @Test func shortIdsAndRepositoryTags() {
        #expect(Identifiers.short("sha256:0123456789abcdef") == "0123456789ab")
        #expect(Identifiers.repositoryAndTag("app@sha256:abc") == ("app", "<none>"))
        #expect(Identifiers.repositoryAndTag("localhost:5000/app") == ("localhost:5000/app", "latest"))
        #expect(Identifiers.truncate("abcdef", to: 4) == "abc…")
    }
}

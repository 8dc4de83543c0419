// swift-tools-version: 6.1
import PackageDescription

// Targets, each with one job. The data path reads top to bottom:
// client → API → agent → image store / runtime → runc.
// The layers (each depends only on those to its left):
//   model (PierSpec) ← runtime, image ← agent
//   model ← cluster (PierCluster: services, scheduler, session messages) ← manager
//   model ← client
// The manager never imports the agent: `pier up` composes the two in the executable, the
// manager reaching its node through the `ManagerNode` protocol.
var targets: [Target] = [
    // Who may call what: roles, the route tables of every server, what a container may ask for.
    // No dependencies: every server and the client share it.
    .target(name: "PierAccess"),
    // OCI image-spec types, digests, the content store and image references. No networking.
    .target(name: "PierOCI", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
    // The model: one container spec (`ContainerSpec`) with one parser per value kind (sizes,
    // durations, CPUs, ports, mounts, devices, names, seccomp profiles) and one `validate()` that
    // every entry point calls before anything is stored or run. Nothing on the host is touched.
    .target(name: "PierSpec", dependencies: ["PierOCI"]),
    // libarchive, for reading (and writing) layer tarballs: gzip, zstd, plain tar.
    .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
    // Layers unpacked once per diff id, image import/export, the image builder.
    .target(name: "PierImage", dependencies: ["PierOCI", "CArchive"]),
    // OCI runtime-spec generation, runc, the shim, overlayfs, cgroups, CNI networking.
    .target(name: "PierRuntime", dependencies: ["PierOCI", "PierSpec"]),
    // Wire types of the agent's HTTP API, shared by server and client.
    .target(name: "PierAPI", dependencies: ["PierAccess", "PierSpec"]),
    // The device agent: state in SQLite, container supervision, the HTTP API.
    .target(name: "PierAgent", dependencies: [
        "PierAccess", "PierAPI", "PierSpec", "PierOCI", "PierImage", "PierRuntime", "PierCluster", "PierPKI", "PierRegistry", "PierCoAPAPI",
        .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOTLS", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Crypto", package: "swift-crypto"),
    ]),
    // Cluster model shared by manager and agent: nodes, services, tasks, the scheduler and the
    // reconciler's decisions, as pure functions over a snapshot. No I/O.
    .target(name: "PierCluster", dependencies: ["PierAPI", "PierAccess", "PierSpec"]),
    // Compose files (compose-spec, with Swarm's `deploy:` section) → service specs.
    .target(name: "PierStack", dependencies: ["PierCluster", "PierSpec", .product(name: "Yams", package: "Yams")]),
    // The cluster CA, node certificates, join tokens and the mutual-TLS configurations.
    .target(name: "PierPKI", dependencies: [
        "PierAccess",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
    ]),
    // The OCI distribution-spec registry (serving side) and a client that pulls from it.
    .target(name: "PierRegistry", dependencies: [
        "PierOCI",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
    ]),
    // CoAP (RFC 7252, 7959 block-wise, 7641 observe, 6690 link format) on NIOCore only.
    .target(name: "PierCoAP", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
    // OSCORE (RFC 8613) on PierCoAP: AES-CCM-16-64-128, security contexts, protect/unprotect,
    // replay windows, and the server side an endpoint plugs in. Pure but for the sequence file.
    .target(name: "PierOSCORE", dependencies: [
        "PierCoAP",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "_CryptoExtras", package: "swift-crypto"),
    ]),
    // The CoAP interface of agent (CPIS) and manager (CEMC) for constrained clients: list,
    // activate, observe, stop and remove services, for clients with OSCORE contexts scoped to
    // services, verbs and what an activation may ask for.
    .target(name: "PierCoAPAPI", dependencies: [
        "PierCoAP", "PierOSCORE", "PierAPI", "PierSpec", "PierAccess",
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Logging", package: "swift-log"),
    ]),
    // The Edge Manager: cluster state behind a StateStore (SQLite), the API, agent sessions,
    // the reconcile loop that applies PierCluster's decisions, and the registry mount. It runs on
    // a `ManagerNode` the executable hands in (the agent), without depending on the agent.
    .target(name: "PierManager", dependencies: [
        "PierAccess", "PierAPI", "PierSpec", "PierCluster", "PierStack", "PierPKI", "PierRegistry", "PierOCI", "PierImage", "PierCoAPAPI",
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "Logging", package: "swift-log"),
    ]),
    // The client library behind the CLI: HTTP over a unix socket, output formatting.
    .target(name: "PierClient", dependencies: [
        "PierAccess", "PierAPI", "PierSpec", "PierOCI", "PierImage", "PierCluster", "PierPKI",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
    ]),
    // The thin `pier` executable: one file per command.
    // Linked without `--export-dynamic` and without PIE: nothing dlopens into `pier`, and with the
    // static Swift runtime the exported symbol table and its relocations were 1.1 MB and 3.3 MB the
    // loader had to map and apply at every start (agent resident memory, client start-up time).
    .executableTarget(name: "pier", dependencies: [
        "PierClient", "PierAgent", "PierManager", "PierAccess", "PierAPI", "PierSpec", "PierOCI", "PierCluster", "PierPKI", "PierCoAPAPI",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ], linkerSettings: [
        // Release only: a debug build links the shared Swift runtime, and a non-PIE executable
        // against it makes the loader warn about copy relocations on every start.
        .unsafeFlags(["-Xlinker", "--no-export-dynamic", "-Xclang-linker", "-no-pie"], .when(configuration: .release)),
    ]),
    // A tiny per-container supervisor in C (like conmon): subreaper, log writer, exit recorder.
    // Linked statically: one runs per container, and without the shared Swift runtime and
    // libstdc++ mapped in its resident set is about a third.
    .executableTarget(name: "pier-shim", linkerSettings: [.unsafeFlags(["-static-executable"])]),
    // The papers' CoAP services (seed 003): compute tasks over integer arrays, and sensors/actuators.
    .executableTarget(name: "pier-compute", dependencies: [
        "PierCoAP", .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ]),
    .executableTarget(name: "pier-sensor", dependencies: [
        "PierCoAP", .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ]),
    // The CoAP client of bench/coap.py and bench/oscore.py: response times, load, activation → answering.
    .executableTarget(name: "pier-coap-bench", dependencies: [
        "PierCoAP", "PierOSCORE", .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ]),

    // The bodies of the libFuzzer targets in Fuzz/ (a package of its own, built with the fuzzer and
    // address sanitizers), here so that the suite replays their corpus and crashers through them.
    .target(name: "PierFuzzTargets", dependencies: [
        "PierCoAP", "PierOSCORE", "PierCoAPAPI", "PierAPI", "PierSpec", "PierCluster", "PierStack", "PierOCI", "PierImage", "PierPKI",
        .product(name: "X509", package: "swift-certificates"),
    ]),

    // What tests share: the process runner that times out, and the requirements (root, tools)
    // that skip a test under a plain `swift test` and fail it under scripts/test.sh.
    .target(name: "PierTestSupport", path: "Tests/PierTestSupport"),

    .testTarget(name: "PierAccessTests", dependencies: ["PierAccess"]),
    .testTarget(name: "PierOCITests", dependencies: ["PierOCI"]),
    .testTarget(name: "PierImageTests", dependencies: ["PierTestSupport", "PierImage", "PierOCI"]),
    .testTarget(name: "PierRuntimeTests", dependencies: ["PierTestSupport", "PierRuntime", "PierSpec"]),
    .testTarget(name: "PierSpecTests", dependencies: ["PierSpec"]),
    .testTarget(name: "PierAgentTests", dependencies: [
        "PierAgent", "PierAPI", "PierSpec", "PierAccess", "PierPKI", "PierCluster", "PierCoAPAPI",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "GRDB", package: "GRDB.swift"),
    ]),
    .testTarget(name: "PierManagerTests", dependencies: [
        "PierManager", "PierCluster", "PierAPI", "PierSpec", "PierAccess", "PierPKI", "PierAgent", "PierRegistry", "PierCoAPAPI",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "GRDB", package: "GRDB.swift"),
    ]),
    .testTarget(name: "PierClusterTests", dependencies: ["PierCluster", "PierAPI", "PierSpec"]),
    .testTarget(name: "PierStackTests", dependencies: ["PierStack", "PierCluster", "PierSpec"]),
    .testTarget(name: "PierPKITests", dependencies: ["PierTestSupport", "PierPKI", .product(name: "NIOPosix", package: "swift-nio")]),
    .testTarget(name: "PierRegistryTests", dependencies: ["PierTestSupport", "PierRegistry", "PierOCI"]),
    .testTarget(name: "PierCoAPTests", dependencies: ["PierCoAP", .product(name: "NIOEmbedded", package: "swift-nio")]),
    .testTarget(name: "PierOSCORETests", dependencies: ["PierOSCORE", "PierCoAP", .product(name: "NIOEmbedded", package: "swift-nio")]),
    // Real UDP against libcoap's coap-client/coap-server and aiocoap, and the two CoAP services.
    .testTarget(
        name: "PierCoAPInteropTests",
        dependencies: ["PierTestSupport", "PierCoAP", "PierOSCORE", "pier-compute", "pier-sensor", .product(name: "NIOPosix", package: "swift-nio")],
        exclude: ["aiocoap_server.py", "aiocoap_observe.py", "aiocoap_oscore_server.py"]),
    .testTarget(name: "PierCoAPAPITests", dependencies: ["PierCoAPAPI", "PierCoAP", "PierOSCORE", "PierAPI", "PierSpec", "PierAccess"]),
    // Every file of Fuzz/Corpus and Fuzz/Crashers through its fuzz target.
    .testTarget(name: "PierFuzzReplayTests", dependencies: ["PierFuzzTargets"]),
    .testTarget(name: "PierClientTests", dependencies: ["PierTestSupport", "PierClient", "PierAPI", "PierSpec", "PierImage", "PierCluster", "PierManager"]),
    // The `pier` executable's own code: its command-line parsing.
    .testTarget(name: "PierCLITests", dependencies: ["pier", "PierClient"]),
    // Starts real processes: runc, the shim, the agent, the `pier` CLI.
    .testTarget(name: "PierIntegrationTests", dependencies: [
        "PierTestSupport", "PierClient", "PierAPI", "PierSpec", "PierCoAP", "PierOSCORE", "PierAgent", "PierRuntime", "PierCluster", .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "GRDB", package: "GRDB.swift"),
    ]),
]

// Development convenience: `PIER_ONLY=PierImageTests,PierOCITests swift test --scratch-path .build-image`
// keeps only those test targets and what they need, so one module can be built and
// tested while another is mid-change. Unset (CI, the README), every target is built.
if let only = Context.environment["PIER_ONLY"], !only.isEmpty {
    let wanted = Set(only.split(separator: ",").map(String.init))
    var keep = Set<String>()
    func visit(_ name: String) {
        guard keep.insert(name).inserted, let t = targets.first(where: { $0.name == name }) else { return }
        for dep in t.dependencies { if case .byNameItem(let n, _) = dep { visit(n) } }
    }
    wanted.forEach(visit)
    targets = targets.filter { keep.contains($0.name) }
}

let package = Package(
    name: "Pier",
    platforms: [.macOS(.v15)],
    products: ["pier", "pier-shim", "pier-compute", "pier-sensor", "pier-coap-bench"].filter { n in targets.contains { $0.name == n } }
        .map { Product.executable(name: $0, targets: [$0]) }
        + (targets.contains { $0.name == "PierFuzzTargets" } ? [.library(name: "PierFuzzTargets", targets: ["PierFuzzTargets"])] : []),
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.27.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.3.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.2.0"),
    ],
    targets: targets
)

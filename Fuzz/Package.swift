// swift-tools-version: 5.4
// 5.4, not newer: from 5.5 on, SwiftPM links executables with `main` renamed to `<module>_main`,
// which a fuzzer (no main of its own: libFuzzer supplies it, -parse-as-library) does not define.
import PackageDescription

// libFuzzer executables, one per target of PierFuzzTargets (in the main package, where the test
// suite replays Corpus/ and Crashers/ through the same code). Built and run by scripts/fuzz.sh:
//
//   swift build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//
// Each executable is only `LLVMFuzzerTestOneInput` calling its target; libFuzzer supplies main.
let targets = [
    "coap-message", "coap-blockwise", "oscore", "activation-body", "tar-layer", "image-reference",
    "oci-manifest", "compose", "container-spec", "service-spec", "pem", "join-token",
]

let package = Package(
    name: "PierFuzz",
    dependencies: [.package(name: "Pier", path: "..")],
    targets: targets.map { name in
        .executableTarget(
            name: "fuzz-\(name)", dependencies: [.product(name: "PierFuzzTargets", package: "Pier")], path: "Sources/\(name)")
    }
)

// swift-tools-version: 6.1
import Foundation
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

// A path dependency is named after its directory (the checkout's, which need not be "pier").
let pier = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "PierFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: targets.map { name in
        .executableTarget(
            name: "fuzz-\(name)", dependencies: [.product(name: "PierFuzzTargets", package: pier)], path: "Sources/\(name)")
    }
)

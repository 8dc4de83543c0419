import Foundation
import Testing

/// What a test needs from the machine: root, a tool, a binary built beside the tests. Where it
/// is missing, a developer's plain `swift test` skips the test; the README's test command
/// (`scripts/test.sh`, which sets `PIER_REQUIRE_ALL=1`) fails it, naming what is missing.
public enum Requirement {
    public static let strict = ProcessInfo.processInfo.environment["PIER_REQUIRE_ALL"] == "1"

    public struct Unmet: Error, CustomStringConvertible {
        public let description: String
    }

    /// True when `met`; else false (the test is skipped), or under `PIER_REQUIRE_ALL` an error
    /// (the test fails).
    public static func check(_ met: Bool, _ what: String) throws -> Bool {
        if met { return true }
        if strict {
            throw Unmet(description: "this test needs \(what), which this machine lacks; scripts/setup.sh installs the tools (as root)")
        }
        return false
    }

    public static func executable(_ path: String) -> Bool { FileManager.default.isExecutableFile(atPath: path) }
    public static let isRoot = geteuid() == 0
}

extension Trait where Self == ConditionTrait {
    /// Runs the test where `met`; elsewhere skips it, or fails it under `PIER_REQUIRE_ALL`.
    public static func requires(_ met: @autoclosure @escaping @Sendable () -> Bool, _ what: String) -> Self {
        .enabled(Comment(rawValue: "needs \(what)")) { try Requirement.check(met(), what) }
    }
}

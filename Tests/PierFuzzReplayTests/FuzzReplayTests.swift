import Foundation
import PierFuzzTargets
import Testing

/// Replays the fuzzers' seeds (`Fuzz/Corpus/<target>/`) and every crash they found
/// (`Fuzz/Crashers/<target>/`) through the same harness bodies the fuzzers run. A crasher that
/// traps again brings the test process down, which fails the run as loudly as it should.
@Suite("Fuzz corpus and crashers replayed through their targets")
struct FuzzReplayTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    /// The files of `Fuzz/<kind>/<target>/`, sorted; none when the directory does not exist.
    static func inputs(_ kind: String, _ target: FuzzTarget) throws -> [URL] {
        let directory = fuzzDirectory.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test("every target has seeds", arguments: FuzzTarget.allCases)
    func seeded(_ target: FuzzTarget) throws {
        #expect(try !Self.inputs("Corpus", target).isEmpty, "Fuzz/Corpus/\(target.rawValue) has no seeds")
    }

    @Test("seeds and crashers run clean", arguments: FuzzTarget.allCases)
    func replay(_ target: FuzzTarget) throws {
        for file in try Self.inputs("Corpus", target) + Self.inputs("Crashers", target) {
            let bytes = try [UInt8](Data(contentsOf: file))
            let problem = target.run(bytes)
            #expect(problem == nil, "\(target.rawValue) \(file.lastPathComponent): \(problem ?? "")")
        }
    }
}

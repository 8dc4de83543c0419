import Foundation
import Logging
import NIOCore
import PierAPI
import PierCoAP
import Synchronization
import Testing

@testable import PierCoAPAPI

/// CBOR for the tests: the few major types an activation body uses.
enum CBOR {
    static func head(_ major: UInt8, _ n: Int) -> [UInt8] {
        n < 24 ? [major << 5 | UInt8(n)] : n < 256 ? [major << 5 | 24, UInt8(n)] : [major << 5 | 25, UInt8(n >> 8), UInt8(n & 0xff)]
    }
    static func text(_ s: String) -> [UInt8] { head(3, s.utf8.count) + Array(s.utf8) }
    static func array(_ items: [[UInt8]]) -> [UInt8] { head(4, items.count) + items.flatMap { $0 } }
    static func map(_ pairs: [(String, [UInt8])]) -> [UInt8] { head(5, pairs.count) + pairs.flatMap { text($0.0) + $0.1 } }
    static func int(_ n: Int) -> [UInt8] { n >= 0 ? head(0, n) : head(1, -1 - n) }
}

@Suite("Activation bodies: JSON and CBOR, unknown keys named")
struct ActivationRequestTests {
    @Test func jsonBodiesWithContainerFieldsAndOnAManagerClusterFields() throws {
        let a = try ActivationRequest.parse(Array(#"{"image":"pier/compute:1","network":"host","command":["--port","5690"]}"#.utf8), name: "c", cluster: false)
        #expect(a.container.image == "pier/compute:1" && a.container.network == "host" && a.container.command == ["--port", "5690"])
        #expect(a.container.name == "c" && a.replicas == nil && !a.global)
        let m = try ActivationRequest.parse(Array(#"{"image":"x","replicas":3,"constraints":["node.labels.zone==a"]}"#.utf8), name: "c", cluster: true)
        #expect(m.replicas == 3 && m.constraints == ["node.labels.zone==a"])
        #expect(try ActivationRequest.parse(Array(#"{"image":"x","mode":"global"}"#.utf8), name: "c", cluster: true).global)
    }

    @Test func badBodiesAreRefusedWithTheReason() {
        func message(_ body: String, cluster: Bool = false) -> String {
            do {
                _ = try ActivationRequest.parse(Array(body.utf8), name: "c", cluster: cluster)
                return "accepted"
            } catch { return error.description }
        }
        #expect(message("[1,2]").contains("JSON object"))
        #expect(message("{").contains("JSON object"))
        #expect(message(#"{"network":"host"}"#).contains("missing field image"))
        #expect(message(#"{"image":"x","replicas":2}"#).contains("unsupported field replicas"))
        #expect(message(#"{"image":"x","imgae":"y","volumez":[]}"#, cluster: true).contains("unsupported fields imgae, volumez"))
        #expect(message(#"{"image":"x","name":"other"}"#).contains("path names \"c\""))
        #expect(message(#"{"image":7}"#).contains("field image has the wrong type"))
        #expect(message(#"{"image":"x","mode":"sideways"}"#, cluster: true).contains("sideways"))
        #expect(message(#"{"image":"x","replicas":-1}"#, cluster: true).contains("replicas: -1 is outside 0…10000"))
        #expect(message(#"{"image":"x","mode":"global","replicas":2}"#, cluster: true).contains("global"))
    }

    @Test func cborBodiesMeanTheSameAsJSON() throws {
        let body = CBOR.map([
            ("image", CBOR.text("pier/compute:1")), ("network", CBOR.text("host")),
            ("command", CBOR.array([CBOR.text("--port"), CBOR.text("5690")])), ("pidsLimit", CBOR.int(64)),
            ("readOnly", [0xf5]), ("cpus", [0xfb] + withUnsafeBytes(of: (0.5).bitPattern.bigEndian, Array.init)),
        ])
        let a = try ActivationRequest.parse(body, name: "c", cluster: false, cbor: true)
        #expect(a.container.image == "pier/compute:1" && a.container.command == ["--port", "5690"])
        #expect(a.container.pidsLimit == 64 && a.container.readOnly && a.container.cpus == 0.5)
        #expect(a == (try ActivationRequest.parse(
            Array(#"{"image":"pier/compute:1","network":"host","command":["--port","5690"],"pidsLimit":64,"readOnly":true,"cpus":0.5}"#.utf8),
            name: "c", cluster: false)))
    }

    @Test func malformedCBORIsRefusedNeverCrashes() {
        func refused(_ bytes: [UInt8]) -> String? {
            do {
                _ = try ActivationRequest.parse(bytes, name: "c", cluster: false, cbor: true)
                return nil
            } catch { return error.description }
        }
        #expect(refused([0xbf])?.contains("indefinite") == true)
        #expect(refused([0xa1, 0x65, 0x69, 0x6d])?.contains("exceeds the body") == true)
        #expect(refused(CBOR.map([("image", [0x43, 1, 2, 3])]))?.contains("byte strings") == true)
        #expect(refused(CBOR.map([("image", CBOR.text("x"))]) + [0])?.contains("after the CBOR item") == true)
        #expect(refused([0xa1, 0x01, 0x01])?.contains("keys must be text") == true)
        #expect(refused(Array(repeating: 0x81, count: 40) + [0])?.contains("nested deeper") == true)
        #expect(refused([0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])?.contains("too large") == true)
    }

    /// Random and mutated bodies from a fixed seed (a failure names the seed and the case, so it
    /// can be replayed): each is refused as invalid with a reason, or parsed into a request for
    /// the path's name with an image, never anything else.
    @Test(arguments: [UInt64(0x5eed_c0a9), 0xb0d1_e5, 0xfa11_0ff])
    func randomAndMutatedCBORIsRefusedOrParsed(seed: UInt64) throws {
        let valid = CBOR.map([
            ("image", CBOR.text("pier/compute:1")), ("network", CBOR.text("host")),
            ("command", CBOR.array([CBOR.text("--port"), CBOR.text("5690")])), ("pidsLimit", CBOR.int(64)),
        ])
        #expect(try ActivationRequest.parse(valid, name: "c", cluster: false, cbor: true).container.image == "pier/compute:1")
        var rng = SeededGenerator(seed: seed)
        var accepted = 0, refusedCount = 0
        for i in 0..<2000 {
            var bytes: [UInt8]
            if i.isMultiple(of: 2) {
                bytes = (0..<Int.random(in: 0...24, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                // One to three byte flips, truncations or insertions in a valid body.
                bytes = valid
                for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
                    let at = Int.random(in: 0..<bytes.count, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: bytes[at] ^= UInt8.random(in: 1...255, using: &rng)
                    case 1: bytes.removeSubrange(at...)
                    default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
                    }
                }
            }
            let replay = "seed \(seed), case \(i): \(bytes.map { String(format: "%02x", $0) }.joined())"
            do {
                let request = try ActivationRequest.parse(bytes, name: "c", cluster: false, cbor: true)
                accepted += 1
                #expect(request.container.name == "c" && !request.container.image.isEmpty, "\(replay)")
                #expect(request.replicas == nil && !request.global, "\(replay)")
            } catch {
                refusedCount += 1
                guard case .invalid(let reason) = error else {
                    Issue.record("\(replay): refused as \(error), not as invalid")
                    continue
                }
                #expect(!reason.isEmpty, "\(replay)")
            }
        }
        // Both paths ran: the mutations keep some bodies valid and break others.
        #expect(accepted > 0 && refusedCount > 1000, "accepted \(accepted), refused \(refusedCount)")
    }
}

/// SplitMix64: a seeded generator, so a failing input can be reproduced from the seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A recording backend, to test the interface's request handling without a runtime. The real
/// backends (agent containers, manager services) are exercised in PierIntegrationTests.
final class RecordingBackend: ConstrainedBackend {
    let role: String
    let calls = Mutex<[String]>([])
    let services = Mutex<[String: ConstrainedServiceStatus]>([:])
    init(role: String) { self.role = role }

    func list() async throws -> [ConstrainedServiceStatus] { services.withLock { Array($0.values) } }
    func status(_ name: String) async throws -> ConstrainedServiceStatus {
        guard let s = services.withLock({ $0[name] }) else { throw ConstrainedAPIError.notFound("no service \(name)") }
        return s
    }
    func activate(_ name: String, _ request: ActivationRequest, client: String) async throws -> Bool {
        calls.withLock { $0.append("activate \(name) \(request.container.image) by \(client)") }
        return services.withLock { $0.updateValue(.init(name: name, image: request.container.image, state: "running"), forKey: name) == nil }
    }
    func stop(_ name: String) async throws { _ = try await status(name); calls.withLock { $0.append("stop \(name)") } }
    func start(_ name: String) async throws { _ = try await status(name); calls.withLock { $0.append("start \(name)") } }
    func remove(_ name: String) async throws {
        _ = try await status(name)
        services.withLock { $0[name] = nil }
        calls.withLock { $0.append("remove \(name)") }
    }
    func onChange(_ changed: @escaping @Sendable () -> Void) async {}
    func translate(_ error: any Error) -> ConstrainedAPIError { .failed("\(error)") }
}


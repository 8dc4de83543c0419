import Foundation

/// A named network namespace (`/run/netns/NAME`) managed with iproute2's `ip netns`.
struct NetworkNamespace: Sendable {
    var name: String
    var ip: String

    static let directory = "/run/netns"

    var path: String { "\(Self.directory)/\(name)" }

    var exists: Bool { FileManager.default.fileExists(atPath: path) }

    static func locateIP() -> String {
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "ip"
    }

    /// Creates the namespace (if missing) and brings its loopback up.
    func create() throws {
        if !exists {
            let r = try Subprocess.run(ip, ["netns", "add", name], timeout: .seconds(30))
            guard r.succeeded || exists else {
                throw NetworkError.namespaceFailed(name: name, message: r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        let up = try Subprocess.run(ip, ["-n", name, "link", "set", "lo", "up"], timeout: .seconds(30))
        guard up.succeeded else {
            throw NetworkError.namespaceFailed(
                name: name, message: "lo up: " + up.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// Deletes the namespace; a missing one is not an error.
    func delete() -> String? {
        guard exists else { return nil }
        guard let r = try? Subprocess.run(ip, ["netns", "delete", name], timeout: .seconds(30)) else {
            return "cannot run \(ip) netns delete \(name)"
        }
        if r.succeeded || !exists { return nil }
        return "ip netns delete \(name): \(r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}

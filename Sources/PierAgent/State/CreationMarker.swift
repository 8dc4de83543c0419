import PierSpec
import Foundation
import PierAPI

/// What the agent writes into a container's directory before its first start (`record.json`):
/// how the container was made. It marks the directory as one this agent created, and lets
/// `pier agent recover` rebuild the container's record when the database is lost.
struct CreationMarker: Codable, Sendable, Equatable {
    static let fileName = "record.json"

    var id: String
    var name: String
    var image: String
    var imageDigest: String
    var config: ContainerSpec
    var command: [String]
    var created: Date

    init(_ r: ContainerRecord) {
        id = r.id; name = r.name; image = r.image; imageDigest = r.imageDigest; config = r.config; command = r.command
        created = r.created
    }

    /// Writes the marker (mode 0600, replaced atomically) unless an identical one is there.
    func write(to directory: URL) throws {
        let file = directory.appendingPathComponent(Self.fileName)
        let data = try Self.encoder.encode(self)
        if (try? Data(contentsOf: file)) == data { return }
        let temporary = directory.appendingPathComponent(Self.fileName + ".tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw AgentError.failed("cannot write \(temporary.path)")
        }
        guard rename(temporary.path, file.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw AgentError.failed("cannot write \(file.path): \(reason)")
        }
    }

    /// The marker in `directory`, if there is a readable one.
    static func read(from directory: URL) throws -> CreationMarker {
        let file = directory.appendingPathComponent(fileName)
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw AgentError.invalid("\(file.path) is missing: the directory was not made by this version of the agent")
        }
        do { return try decoder.decode(CreationMarker.self, from: data) } catch {
            throw AgentError.invalid("\(file.path) cannot be read: \(error)")
        }
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(date.timeIntervalSince1970)
        }
        return e
    }()

    private static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in Date(timeIntervalSince1970: try decoder.singleValueContainer().decode(Double.self)) }
        return d
    }()
}

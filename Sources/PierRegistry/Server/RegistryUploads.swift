import Foundation
import PierOCI

/// Blob upload sessions of the registry, each a directory `<uploads>/<id>/` with the bytes
/// received so far (`data`) and the repository it belongs to (`repository`). On disk, so an
/// upload survives a broken connection and a restart of the registry: the client asks where it
/// stands (`GET …/uploads/<id>` answers `Range: 0-<last byte>`) and continues from there.
/// Nothing of an upload is visible to pulls until its digest verifies.
actor RegistryUploads {
    let directory: URL
    let maxBytes: Int64
    /// Uploads a request is writing to now: a second writer at once is refused.
    private var busy: Set<String> = []
    /// Blobs pushed to a repository that no manifest refers to yet: readable there, so clients
    /// can check (HEAD) what they just pushed before they push the manifest.
    private var pushed: [String: Set<Digest>] = [:]

    init(directory: URL, maxBytes: Int64) {
        self.directory = directory
        self.maxBytes = maxBytes
    }

    /// Sessions untouched this long are abandoned pushes; they are swept at most hourly, when a
    /// new session starts.
    static let staleAge: TimeInterval = 24 * 3600
    private var lastSweep: Date?

    /// A new session for `repository`; returns its id.
    func start(repository: String) throws -> String {
        if lastSweep.map({ Date().timeIntervalSince($0) > 3600 }) ?? true {
            lastSweep = Date()
            removeStale(olderThan: Self.staleAge)
        }
        let id = UUID().uuidString.lowercased()
        let dir = directory.appendingPathComponent(id)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: dir.appendingPathComponent("data").path, contents: nil) else {
            throw RegistryHTTPError(.blobUploadInvalid, "cannot create upload \(id)")
        }
        try Data(repository.utf8).write(to: dir.appendingPathComponent("repository"))
        return id
    }

    /// Takes the session for writing; fails when it does not exist, belongs to another
    /// repository, or another request is writing to it. Returns the bytes received so far.
    func acquire(_ id: String, repository: String) throws(RegistryHTTPError) -> Int64 {
        let size = try self.size(id, repository: repository)
        guard busy.insert(id).inserted else {
            throw RegistryHTTPError(.blobUploadInvalid, "upload \(id) is being written by another request",
                                    detail: "wait for it to finish, then ask GET for the range received")
        }
        return size
    }

    func release(_ id: String) { busy.remove(id) }

    /// The bytes received so far.
    func size(_ id: String, repository: String) throws(RegistryHTTPError) -> Int64 {
        guard Self.isValidID(id) else { throw RegistryHTTPError(.blobUploadUnknown, "\(id) is not an upload id of this registry") }
        let dir = directory.appendingPathComponent(id)
        guard let owner = try? String(contentsOf: dir.appendingPathComponent("repository"), encoding: .utf8),
            let attributes = try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("data").path),
            let size = (attributes[.size] as? NSNumber)?.int64Value
        else { throw RegistryHTTPError(.blobUploadUnknown, "upload \(id) is not known (finished, cancelled or never started)") }
        guard owner == repository else {
            throw RegistryHTTPError(.blobUploadUnknown, "upload \(id) belongs to another repository")
        }
        return size
    }

    nonisolated func dataURL(_ id: String) -> URL { directory.appendingPathComponent(id).appendingPathComponent("data") }

    func discard(_ id: String) {
        guard Self.isValidID(id) else { return }
        try? FileManager.default.removeItem(at: directory.appendingPathComponent(id))
        busy.remove(id)
    }

    func recordPushed(_ digest: Digest, repository: String) { pushed[repository, default: []].insert(digest) }

    func wasPushed(_ digest: Digest, repository: String) -> Bool { pushed[repository]?.contains(digest) ?? false }

    /// Forgets blobs a manifest of the repository now refers to (they are reachable from it).
    func forgetPushed(_ digests: Set<Digest>, repository: String) {
        pushed[repository]?.subtract(digests)
        if pushed[repository]?.isEmpty == true { pushed[repository] = nil }
    }

    /// Removes sessions nobody touched for `age` seconds (abandoned pushes).
    func removeStale(olderThan age: TimeInterval, now: Date = Date()) {
        guard let entries = try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: [.contentModificationDateKey])
        else { return }
        for entry in entries where Self.isValidID(entry.lastPathComponent) && !busy.contains(entry.lastPathComponent) {
            let modified = (try? entry.appendingPathComponent("data").resourceValues(forKeys: [.contentModificationDateKey]))?.contentModificationDate
            if let modified, now.timeIntervalSince(modified) > age { try? FileManager.default.removeItem(at: entry) }
        }
    }

    /// Ids are the lowercase UUIDs `start` makes: nothing else reaches the file system.
    static func isValidID(_ id: String) -> Bool {
        id.count == 36 && id.allSatisfy { $0 == "-" || $0.isHexDigit && !$0.isUppercase }
    }
}

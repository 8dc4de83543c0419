import Foundation
import HTTPTypes
import PierOCI

/// Blob upload sessions of the registry, each a directory `<uploads>/<id>/` with the bytes
/// received so far (`data`) and the repository it belongs to (`repository`). On disk, so an
/// upload survives a broken connection and a restart of the registry: the client asks where it
/// stands (`GET …/uploads/<id>` answers `Range: 0-<last byte>`) and continues from there.
/// Nothing of an upload is visible to pulls until its digest verifies.
///
/// Bounded: at most `maxSessions` sessions, `maxSessionsPerClient` per client, each at most
/// `maxBlobBytes`; a session idle for `sessionIdleLimit` is removed with its bytes (swept when
/// sessions start or are written to, at most once a minute, and when the registry opens).
actor RegistryUploads {
    let directory: URL
    let maxBytes: Int64
    let maxSessions: Int
    let maxSessionsPerClient: Int
    let idleLimit: TimeInterval
    /// Open sessions and the client that started each ("" for those found on disk at start).
    private var owners: [String: String] = [:]
    /// Uploads a request is writing to now: a second writer at once is refused.
    private var busy: Set<String> = []
    /// Blobs pushed to a repository that no manifest refers to yet: readable there, so clients
    /// can check (HEAD) what they just pushed before they push the manifest.
    private var pushed: [String: Set<Digest>] = [:]

    init<Context>(directory: URL, settings: RegistryRoutes<Context>.PushSettings) {
        self.directory = directory
        self.maxBytes = settings.maxBlobBytes
        self.maxSessions = settings.maxSessions
        self.maxSessionsPerClient = settings.maxSessionsPerClient
        let idle = settings.sessionIdleLimit.components
        self.idleLimit = Double(idle.seconds) + Double(idle.attoseconds) / 1e18
        // Sessions a previous run left count against the limit until they finish or go stale.
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for id in existing where Self.isValidID(id) { owners[id] = "" }
    }

    private var lastSweep: Date?

    /// Removes stale sessions, at most once a minute unless `force`.
    private func sweep(force: Bool = false) {
        let now = Date()
        guard force || lastSweep.map({ now.timeIntervalSince($0) > 60 }) ?? true else { return }
        lastSweep = now
        removeStale(olderThan: idleLimit, now: now)
    }

    /// A new session for `repository` started by `client`; returns its id. Refused with 429
    /// when the registry or the client has as many sessions open as allowed.
    func start(repository: String, client: String = "") throws -> String {
        sweep()
        if owners.count >= maxSessions || owners.values.count(where: { $0 == client }) >= maxSessionsPerClient {
            sweep(force: true)
        }
        let retry: HTTPFields = [.retryAfter: "60"]
        guard owners.count < maxSessions else {
            throw RegistryHTTPError(
                .tooManyRequests, "the registry has \(owners.count) upload sessions open, its limit of \(maxSessions)",
                detail: "retry later; abandoned sessions are removed after \(Int(idleLimit)) s idle", headers: retry)
        }
        let mine = owners.values.count(where: { $0 == client })
        guard mine < maxSessionsPerClient else {
            throw RegistryHTTPError(
                .tooManyRequests, "client \(client) has \(mine) upload sessions open, the limit per client of \(maxSessionsPerClient)",
                detail: "finish or cancel (DELETE) an upload first", headers: retry)
        }
        let id = UUID().uuidString.lowercased()
        let dir = directory.appendingPathComponent(id)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: dir.appendingPathComponent("data").path, contents: nil) else {
            throw RegistryHTTPError(.blobUploadInvalid, "cannot create upload \(id)")
        }
        try Data(repository.utf8).write(to: dir.appendingPathComponent("repository"))
        owners[id] = client
        return id
    }

    /// Upload sessions open now.
    var openSessions: Int { owners.count }

    /// Takes the session for writing; fails when it does not exist, belongs to another
    /// repository, or another request is writing to it. Returns the bytes received so far.
    func acquire(_ id: String, repository: String) throws(RegistryHTTPError) -> Int64 {
        sweep()
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
        owners[id] = nil
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
            if let modified, now.timeIntervalSince(modified) > age {
                try? FileManager.default.removeItem(at: entry)
                owners[entry.lastPathComponent] = nil
            }
        }
    }

    /// Ids are the lowercase UUIDs `start` makes: nothing else reaches the file system.
    static func isValidID(_ id: String) -> Bool {
        id.count == 36 && id.allSatisfy { $0 == "-" || $0.isHexDigit && !$0.isUppercase }
    }
}

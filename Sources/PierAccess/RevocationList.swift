#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Identities the cluster no longer accepts: removed nodes (by node id, whatever certificate
/// they hold) and revoked client certificates (by serial number). The manager keeps it and pushes
/// it to every agent on its session; an agent checks it on its direct port, also while the manager
/// is unreachable. An entry is dropped once the last certificate it refuses has expired: after
/// that the certificate is refused for its age anyway.
public struct RevocationList: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable, Hashable {
        /// A node id (subject CN): every certificate of that node is refused.
        public var nodeID: String?
        /// A certificate's serial number, lowercase hex: that certificate is refused.
        public var serialNumber: String?
        /// When the last certificate this entry refuses expires; the entry can go then.
        public var expires: Date
        /// Why, for messages: `node removed`, `revoked by admin`.
        public var reason: String

        public init(nodeID: String? = nil, serialNumber: String? = nil, expires: Date, reason: String) {
            self.nodeID = nodeID; self.serialNumber = serialNumber; self.expires = expires; self.reason = reason
        }
    }

    /// Bumped with every change, so an agent keeps the newest of two lists.
    public var version: Int
    public var entries: [Entry]

    public init(version: Int = 0, entries: [Entry] = []) {
        self.version = version
        self.entries = entries
    }

    /// The entry that refuses the certificate with this subject CN and serial number, if any.
    public func entry(refusingSubject subject: String, serialNumber: String) -> Entry? {
        entries.first { entry in
            (entry.nodeID != nil && entry.nodeID == subject) || (entry.serialNumber != nil && entry.serialNumber == serialNumber)
        }
    }

    /// The list without entries whose certificates have all expired by `now`.
    public func pruned(now: Date = Date()) -> RevocationList {
        RevocationList(version: version, entries: entries.filter { $0.expires > now })
    }

    /// Adds entries (skipping ones already listed) and bumps the version.
    public mutating func add(_ new: [Entry]) {
        for entry in new where !entries.contains(where: { $0.nodeID == entry.nodeID && $0.serialNumber == entry.serialNumber }) {
            entries.append(entry)
        }
        version += 1
    }
}

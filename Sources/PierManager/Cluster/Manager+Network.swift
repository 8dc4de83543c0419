import Foundation
import PierCluster

/// The cluster network on the manager's side: the settings fixed at first start, node subnets
/// leased at a node's first hello and kept while it is a member, and the mesh's peer sets sent
/// to every connected node. The decisions are `SubnetAllocator`'s and `MeshPlanner`'s; this
/// stores them and sends them.
///
/// The manager's own node (`pier up`'s agent) is the one whose id `localNodeID` stored in meta
/// (`local.nodeID`): its session is in process and has no address, so it is reached at the first
/// address it reports, and it relays for NAT'd nodes when no agent offers to (`--relay`). The
/// role is not used for this: nodes that join with a manager token are not on the manager's host.
extension Manager {
    static let networkSettingsKey = "network.settings"
    /// `network.released.<subnet>` → when a removed node released it (ISO 8601).
    static let releasedSubnetPrefix = "network.released."

    var networkSettings: ClusterNetworkSettings { configuration.network }
    var colocatedNodeID: String? { meta["local.nodeID"] }

    /// At start: checks the settings, refuses a range or node prefix other than the stored
    /// ones, and stores them on first start. When the data path or MTU changed, every node's
    /// place in the mesh is decided again from what it last reported.
    func prepareNetwork() throws {
        let settings = networkSettings
        try settings.validate()
        if let text = meta[Self.networkSettingsKey] {
            let stored: ClusterNetworkSettings
            do { stored = try JSONDecoder().decode(ClusterNetworkSettings.self, from: Data(text.utf8)) } catch {
                throw ManagerError.invalid(
                    "the stored network settings (\(Self.networkSettingsKey)) cannot be read: \(error); "
                        + "restore the state with `pier manager recover`")
            }
            guard stored.sameAddressing(as: settings) else {
                throw ClusterNetworkError.storedSettingsDiffer(stored: stored, given: settings)
            }
            if stored == settings { return }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var changes = ChangeSet()
        changes.meta[Self.networkSettingsKey] = String(decoding: try encoder.encode(settings), as: UTF8.self)
        for var node in nodes.values {
            guard let old = node.network else { continue }
            var network = MeshPlanner.network(
                report: node.description.network, sourceAddress: node.address,
                colocated: node.id == colocatedNodeID, subnet: old.subnet, settings: settings)
            network.relayNodeID = old.relayNodeID
            node.network = network
            changes.nodes.append(node)
        }
        try commit(changes)
        logger.info("cluster network: \(settings.range), a /\(settings.nodePrefix) per node, \(settings.dataPath.rawValue)")
    }

    /// The allocator over the current leases and the subnets of removed nodes.
    func subnetAllocator() -> SubnetAllocator {
        var released: [IPv4Network: Date] = [:]
        let dates = ISO8601DateFormatter()
        for (key, value) in meta where key.hasPrefix(Self.releasedSubnetPrefix) {
            // A record that cannot be read reserves nothing.
            guard let subnet = try? IPv4Network(parsing: String(key.dropFirst(Self.releasedSubnetPrefix.count)), requireNetwork: true),
                let date = dates.date(from: value)
            else { continue }
            released[subnet] = date
        }
        return SubnetAllocator(settings: networkSettings, leases: nodes.compactMapValues { $0.network?.subnet }, released: released)
    }

    /// At a node's hello (`attach`): its subnet (leased now on the first hello, the same one
    /// afterwards) and how the mesh reaches it, set on `node` for the caller to commit with the
    /// rest of the hello. Throws when the range has no free subnet; the node's message says so.
    func joinNetwork(_ node: inout Node, changes: inout ChangeSet) throws -> NodeLease {
        let settings = networkSettings
        let allocator = subnetAllocator()
        let now = Date()
        let subnet: IPv4Network
        do { subnet = try allocator.lease(for: node.id, requested: node.description.network?.subnet, now: now) } catch {
            logger.error("node \(node.id) (\(node.description.hostname)) gets no subnet: \(error)")
            // The node stays as it was (not ready), with the reason for `pier node ls/inspect`.
            var refused = nodes[node.id] ?? node
            refused.message = "no subnet: \(error)"
            var record = ChangeSet()
            record.nodes.append(refused)
            try? commit(record)
            throw ManagerError.conflict("\(error)")
        }
        // Expired reservations go, and so does the one of the subnet just leased.
        for expired in allocator.expired(now: now) { changes.deletedMeta.append(Self.releasedSubnetPrefix + expired.description) }
        let leasedRecord = Self.releasedSubnetPrefix + subnet.description
        if meta[leasedRecord] != nil, !changes.deletedMeta.contains(leasedRecord) { changes.deletedMeta.append(leasedRecord) }
        if node.network?.subnet != subnet {
            logger.info("node \(node.id) (\(node.description.hostname)) leased \(subnet)")
        }
        var network = MeshPlanner.network(
            report: node.description.network, sourceAddress: node.address,
            colocated: node.id == colocatedNodeID, subnet: subnet, settings: settings)
        network.relayNodeID = node.network?.relayNodeID
        if network.reachability == .none, let message = network.message {
            logger.warning("node \(node.id) (\(node.description.hostname)) is not on the mesh: \(message)")
        }
        node.network = network
        return NodeLease(subnet: subnet, clusterRange: settings.range, dataPath: settings.dataPath, mtu: network.mtu)
    }

    /// At `pier node rm`: the node's subnet stays reserved for the grace period.
    func releaseSubnet(of node: Node, into changes: inout ChangeSet) {
        guard let subnet = node.network?.subnet else { return }
        changes.meta[Self.releasedSubnetPrefix + subnet.description] = ISO8601DateFormatter().string(from: Date())
    }

    /// The relay and every node's peer set, from the nodes as they are now. Made again only
    /// when what it depends on changed: the reconcile loop asks several times a second.
    func meshPlan() -> MeshCache.Plan {
        let inputs = nodes.values.map(MeshCache.Input.init).sorted { $0.id < $1.id }
        if let cache = meshCache, cache.inputs == inputs, cache.colocated == colocatedNodeID { return cache.plan }
        let all = Array(nodes.values)
        let relay = MeshPlanner.relay(among: all, colocatedNodeID: colocatedNodeID, settings: networkSettings)
        let plan = MeshCache.Plan(relay: relay, sets: MeshPlanner.peerSets(nodes: all, relayNodeID: relay, settings: networkSettings))
        meshCache = MeshCache(inputs: inputs, colocated: colocatedNodeID, plan: plan)
        return plan
    }

    /// Records which node relays for each NAT'd node (for `pier node ls`), and sends each
    /// connected node its peer set when it differs from the last one sent.
    func pushPeers() async {
        let plan = meshPlan()
        var changes = ChangeSet()
        for var node in nodes.values {
            guard var network = node.network else { continue }
            let relay = network.reachability == .nat ? plan.relay : nil
            guard network.relayNodeID != relay else { continue }
            network.relayNodeID = relay
            node.network = network
            changes.nodes.append(node)
        }
        do { try commit(changes) } catch { logger.error("recording the mesh relay failed: \(error)") }
        for (nodeID, session) in sessions {
            guard let set = plan.sets[nodeID], set != session.lastPeers else { continue }
            sessions[nodeID]?.lastPeers = set
            trace("manager: peers sent")
            await session.send(.peers(set))
        }
    }

    /// The peer set last computed for a node (for tests and `pier node inspect`).
    public func peerSet(for nodeID: String) -> PeerSet? { meshPlan().sets[nodeID] }
}

/// The last mesh plan and the node fields it was made from.
struct MeshCache {
    struct Input: Equatable {
        let id: String
        let hostname: String
        let network: NodeNetwork?
        let ready: Bool
        let offersRelay: Bool
        init(_ node: Node) {
            id = node.id; hostname = node.description.hostname; network = node.network
            ready = node.state == .ready; offersRelay = node.description.network?.relay == true
        }
    }
    struct Plan {
        let relay: String?
        let sets: [String: PeerSet]
    }
    let inputs: [Input]
    let colocated: String?
    let plan: Plan
}

import PierCluster

/// Checks a peer set from the manager against this node before anything is rendered from it:
/// a peer with a garbage key, endpoint, address or MAC, with addresses outside the cluster range,
/// inside this node's own subnet or already routed to another peer is left out (with the reason),
/// and the others are applied.
enum MeshPeerCheck {
    static func check(_ set: PeerSet, subnet: IPv4Network, ownKey: String?) -> (peers: [MeshPeer], problems: [MeshError]) {
        var accepted: [MeshPeer] = []
        var problems: [MeshError] = []
        var routed = Set<IPv4Network>()
        var keys = Set<String>()
        for peer in set.peers {
            let reason = problem(peer, set: set, subnet: subnet, ownKey: ownKey, routed: routed, keys: keys)
            if let reason {
                problems.append(.badPeer(nodeID: peer.nodeID.isEmpty ? peer.hostname : peer.nodeID, reason: reason))
                continue
            }
            accepted.append(peer)
            routed.formUnion(peer.allowedIPs.map(\.network))
            if let key = peer.publicKey { keys.insert(key) }
        }
        return (accepted, problems)
    }

    private static func problem(
        _ peer: MeshPeer, set: PeerSet, subnet: IPv4Network, ownKey: String?, routed: Set<IPv4Network>, keys: Set<String>
    ) -> String? {
        guard !peer.allowedIPs.isEmpty else { return "no allowed addresses" }
        for prefix in peer.allowedIPs {
            guard prefix == prefix.network else { return "allowed address \(prefix) has host bits set" }
            guard set.clusterRange.contains(prefix) else { return "allowed address \(prefix) lies outside the cluster range \(set.clusterRange)" }
            // A relay's entry spans the whole range, this node's subnet included; nothing may
            // claim this subnet or a part of it.
            guard !subnet.contains(prefix) else { return "allowed address \(prefix) is this node's own subnet \(subnet)" }
            guard !routed.contains(prefix) else { return "allowed address \(prefix) already belongs to another peer" }
        }
        switch set.dataPath {
        case .wireguard:
            guard let key = peer.publicKey else { return "no public key" }
            guard MeshKey.isValidKey(key) else { return "public key \"\(key.prefix(64))\" is not the base64 of 32 bytes" }
            guard key != ownKey else { return "it has this node's own public key" }
            guard !keys.contains(key) else { return "its public key belongs to another peer" }
            if let endpoint = peer.endpoint, !isEndpoint(endpoint) {
                return "endpoint \"\(endpoint.prefix(64))\" is not HOST:PORT (an IPv4 address, [IPv6] or a DNS name, and a port 1 to 65535)"
            }
            if let keepalive = peer.keepalive, !(1...3600).contains(keepalive) { return "keepalive \(keepalive) s: expected 1 to 3600" }
        case .vxlan:
            guard peer.allowedIPs.count == 1 else { return "a VXLAN peer routes exactly its own subnet, not \(peer.allowedIPs.count) prefixes" }
            guard let underlay = peer.underlayAddress, IPv4Network.parseAddress(underlay) != nil else {
                return "underlay address \"\((peer.underlayAddress ?? "").prefix(64))\" is not an IPv4 address"
            }
            guard let mac = peer.vtepMAC, isUnicastMAC(mac) else {
                return "VTEP MAC \"\((peer.vtepMAC ?? "").prefix(64))\" is not a unicast MAC such as 02:50:0a:59:01:00"
            }
        }
        return nil
    }

    /// `a.b.c.d:port`, `[v6]:port` or `name:port`.
    static func isEndpoint(_ text: String) -> Bool {
        guard text.utf8.count <= 261, let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port), text[text.index(after: colon)...].allSatisfy(\.isASCII)
        else { return false }
        let host = String(text[..<colon])
        if host.hasPrefix("[") {
            let inner = host.dropFirst().dropLast()
            return host.hasSuffix("]") && inner.contains(":") && inner.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        if IPv4Network.parseAddress(host) != nil { return true }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !host.isEmpty && host.utf8.count <= 253 && !host.allSatisfy({ $0.isNumber || $0 == "." })
            && labels.allSatisfy { label in
                (1...63).contains(label.count) && label.first != "-" && label.last != "-"
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            }
    }

    /// Six colon-separated hex bytes, the group bit clear.
    static func isUnicastMAC(_ text: String) -> Bool {
        let bytes = text.split(separator: ":", omittingEmptySubsequences: false)
        guard bytes.count == 6, bytes.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isHexDigit) }), let first = UInt8(bytes[0], radix: 16)
        else { return false }
        return first & 1 == 0 && text != "00:00:00:00:00:00"
    }
}

import PierCluster

/// The configuration `wg syncconf` applies to the node's WireGuard interface (wg(8)'s format):
/// the interface's private key and port, then one section per peer. Rendered only from checked
/// peers (`MeshPeerCheck`): no field can carry a line break or another key.
///
///     [Interface]
///     PrivateKey = <base64>
///     ListenPort = 51820
///
///     [Peer]
///     PublicKey = <base64>
///     Endpoint = 192.0.2.7:51820
///     AllowedIPs = 10.89.2.0/24
///     PersistentKeepalive = 25
enum WireGuardConfig {
    static func render(privateKey: String, listenPort: Int, peers: [MeshPeer]) -> String {
        var lines = ["[Interface]", "PrivateKey = \(privateKey)", "ListenPort = \(listenPort)"]
        for peer in peers {
            guard let key = peer.publicKey else { continue }
            lines += ["", "# \(comment(peer))", "[Peer]", "PublicKey = \(key)"]
            if let endpoint = peer.endpoint { lines.append("Endpoint = \(endpoint)") }
            lines.append("AllowedIPs = " + peer.allowedIPs.map(\.description).joined(separator: ", "))
            if let keepalive = peer.keepalive { lines.append("PersistentKeepalive = \(keepalive)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The peer's node id and host name, printable characters only.
    private static func comment(_ peer: MeshPeer) -> String {
        let text = "\(peer.hostname) (\(peer.nodeID))"
        return String(text.prefix(120).map { $0.isASCII && !$0.isNewline && ($0.isLetter || $0.isNumber || " ()._-:".contains($0)) ? $0 : "?" })
    }
}

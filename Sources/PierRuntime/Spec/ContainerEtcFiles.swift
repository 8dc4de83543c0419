import PierSpec
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` a container sees: generated in
/// its bundle and bind-mounted over the image's own.
public struct ContainerEtcFiles: Sendable, Equatable {
    public var hosts: URL
    public var hostname: URL
    public var resolvConf: URL

    /// The files' places in `directory` (usually `<bundle>/etc`).
    public init(directory: URL) {
        hosts = directory.appendingPathComponent("hosts")
        hostname = directory.appendingPathComponent("hostname")
        resolvConf = directory.appendingPathComponent("resolv.conf")
    }

    /// Public resolvers used when the node's only name servers are local (127.x, ::1), which
    /// are unreachable from the container's own network namespace.
    static let fallbackNameservers = ["8.8.8.8", "8.8.4.4"]

    /// Writes the three files. With `host` networking the node's hosts and resolv.conf are
    /// copied as they are; otherwise hosts names `ipAddress` (if any) as `hostname`, and
    /// resolv.conf is `resolvConfText` when given (the node's resolver, for a bridge container),
    /// else the node's without local name servers.
    public func write(
        hostname name: String, ipAddress: String?, network: NetworkMode, resolvConfText: String? = nil,
        hostEtc: URL = URL(fileURLWithPath: "/etc")
    ) throws {
        try FileManager.default.makeDirectory(hosts.deletingLastPathComponent())
        let nodeHosts = (try? String(contentsOf: hostEtc.appendingPathComponent("hosts"), encoding: .utf8)) ?? ""
        let nodeResolv = (try? String(contentsOf: hostEtc.appendingPathComponent("resolv.conf"), encoding: .utf8)) ?? ""
        let hostsText: String
        let resolvText: String
        if network == .host {
            hostsText = nodeHosts.isEmpty ? Self.baseHosts : nodeHosts
            resolvText = nodeResolv
        } else {
            hostsText = Self.baseHosts + (ipAddress.map { "\($0)\t\(name)\n" } ?? "")
            resolvText = resolvConfText ?? Self.containerResolvConf(from: nodeResolv)
        }
        try SystemCalls.writeAtomically(Data((name + "\n").utf8), to: hostname, durable: false)
        try SystemCalls.writeAtomically(Data(hostsText.utf8), to: hosts, durable: false)
        try SystemCalls.writeAtomically(Data(resolvText.utf8), to: resolvConf, durable: false)
    }

    static let baseHosts = """
        127.0.0.1\tlocalhost
        ::1\tlocalhost ip6-localhost ip6-loopback
        fe00::0\tip6-localnet
        ff00::0\tip6-mcastprefix
        ff02::1\tip6-allnodes
        ff02::2\tip6-allrouters

        """

    /// The node's resolv.conf without loopback name servers (Docker's filter), with public
    /// fallbacks when none is left.
    static func containerResolvConf(from text: String) -> String {
        var kept: [String] = []
        var nameservers = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.first == "nameserver", fields.count >= 2 {
                let address = String(fields[1])
                if address.hasPrefix("127.") || address == "::1" || address.hasPrefix("fe80:") { continue }
                nameservers += 1
            }
            kept.append(String(line))
        }
        while kept.last?.isEmpty == true { kept.removeLast() }
        if nameservers == 0 {
            kept += fallbackNameservers.map { "nameserver \($0)" }
        }
        return kept.joined(separator: "\n") + "\n"
    }

    /// Bind mounts of the three files (read-only with a read-only rootfs).
    public func mounts(readOnly: Bool) -> [RuntimeSpec.Mount] {
        let options = ["rbind", "rprivate", readOnly ? "ro" : "rw"]
        return [
            .init(destination: "/etc/hosts", type: "bind", source: hosts.path, options: options),
            .init(destination: "/etc/hostname", type: "bind", source: hostname.path, options: options),
            .init(destination: "/etc/resolv.conf", type: "bind", source: resolvConf.path, options: options),
        ]
    }

    /// Hands the files to a remapped container's root, so it can edit them as root can elsewhere,
    /// and lets it search their directory (runc binds them from inside the user namespace).
    public func chown(to mapping: IDMapping) {
        chmod(hosts.deletingLastPathComponent().path, 0o711)
        for file in [hosts, hostname, resolvConf] { lchown(file.path, mapping.uidStart, mapping.gidStart) }
    }
}

import Foundation

// What a node's resolver serves: the directory, with the node's own tasks as the node sees them
// now, rendered as hosts files (one per service) in the directory dnsmasq watches (`--hostsdir`).

extension ServiceDirectory {
    /// This directory with the node's own tasks as they are now: every address `isLocal` claims
    /// is dropped, and `local` (service id → addresses of the node's serving tasks) is added to
    /// the services it names. So a task that stopped or turned unhealthy here leaves its names
    /// before the manager hears of it, and one that started joins them. Services the directory
    /// does not hold are left out: their names are not known here.
    public func overlaying(local: [String: [String]], isLocal: (String) -> Bool) -> ServiceDirectory {
        ServiceDirectory(services: services.map { record in
            var record = record
            let kept = record.addresses.filter { !isLocal($0) }
            record.addresses = Self.sorted(Set(kept + (local[record.serviceID] ?? [])))
            return record
        })
    }

    /// One hosts file per service that has addresses, by file name (`service-ID`): each address
    /// on a line with every name of the service. Records whose id cannot name a file, or whose
    /// addresses are not IPv4 addresses, are left out (they came over the network).
    public func hostsFiles(domain: String = ServiceDirectory.domain) -> [String: String] {
        var files: [String: String] = [:]
        for record in services {
            guard Self.isFileName(record.serviceID) else { continue }
            let addresses = record.addresses.filter { IPv4Network.parseAddress($0) != nil }
            let names = record.names(domain: domain).filter(Self.isDNSName)
            guard !addresses.isEmpty, !names.isEmpty else { continue }
            let line = names.joined(separator: " ")
            files["service-\(record.serviceID)", default: ""] += addresses.map { "\($0) \(line)\n" }.joined()
        }
        return files
    }

    static func isFileName(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64 && id.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// Dot-separated labels of letters, digits, '-' and '_' (names from a directory that came over
    /// the network must not smuggle a second hosts entry or a comment into the file).
    static func isDNSName(_ name: String) -> Bool {
        guard name.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63
                && label.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
        }
    }
}

/// The resolv.conf of a bridge container on a node that runs the resolver: the resolver on the
/// bridge's gateway, the container's stack's zone searched first, then the cluster's, and
/// `ndots:2` so that `web` and `tasks.web` are looked up in them before anywhere else.
public enum ContainerResolvConf {
    public static func render(nameserver: String, stack: String?, domain: String = ServiceDirectory.domain) -> String {
        let search = (stack.map { ["\($0.lowercased()).\(domain)"] } ?? []) + [domain]
        return "nameserver \(nameserver)\nsearch \(search.joined(separator: " "))\noptions ndots:2\n"
    }
}

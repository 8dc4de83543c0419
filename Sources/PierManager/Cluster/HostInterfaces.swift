import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import PierCluster

/// The IPv4 addresses of this host's interfaces, with their prefix lengths (getifaddrs(3)).
enum HostInterfaces {
    static func ipv4() -> [(name: String, address: IPv4Network)] {
        var first: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&first) == 0 else { return [] }
        defer { freeifaddrs(first) }
        var found: [(name: String, address: IPv4Network)] = []
        var cursor = first
        while let entry = cursor?.pointee {
            defer { cursor = entry.ifa_next }
            guard let addr = entry.ifa_addr, addr.pointee.sa_family == sa_family_t(AF_INET), let mask = entry.ifa_netmask else { continue }
            let address = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            let bits = mask.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            found.append((String(cString: entry.ifa_name), IPv4Network(address: address, prefix: bits.nonzeroBitCount)))
        }
        return found
    }

    /// Interfaces Pier makes itself (its bridges, mesh interfaces), whose addresses come from
    /// the cluster range: their names start with `pier`, or are the bridge `pier up` was given.
    static func isPiers(_ name: String, bridge: String?) -> Bool {
        name.hasPrefix("pier") || name == bridge
    }
}

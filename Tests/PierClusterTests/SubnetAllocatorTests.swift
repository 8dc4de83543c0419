import Foundation
import Testing
@testable import PierCluster

/// Node subnets: the first lease, stickiness, a node's own subnet given back, the grace period
/// after a removal, exhaustion, and settings that cannot work.
@Suite struct SubnetAllocatorTests {
    static func net(_ text: String) throws -> IPv4Network { try IPv4Network(parsing: text) }
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func firstLeasesAreTheLowestFreeSubnetsAndStayWithTheirNode() throws {
        var allocator = SubnetAllocator(settings: ClusterNetworkSettings())
        let a = try allocator.lease(for: "a", now: Self.now)
        #expect(a == (try Self.net("10.89.0.0/24")))
        allocator.leases["a"] = a
        let b = try allocator.lease(for: "b", now: Self.now)
        #expect(b == (try Self.net("10.89.1.0/24")))
        allocator.leases["b"] = b
        // Sticky: asked again (a manager restarted on its stored leases), a node keeps its subnet,
        // whatever it reports holding.
        let restarted = SubnetAllocator(settings: ClusterNetworkSettings(), leases: ["a": a, "b": b])
        #expect(try restarted.lease(for: "b", requested: try Self.net("10.89.9.0/24"), now: Self.now) == b)
        #expect(try restarted.lease(for: "a", now: Self.now) == a)
        // A gap left by a lease that moved is filled first.
        let gap = SubnetAllocator(settings: ClusterNetworkSettings(), leases: ["b": b])
        #expect(try gap.lease(for: "c", now: Self.now) == a)
    }

    @Test func theSubnetANodeReportsIsHonouredOnlyWhenFreeAndItsOwn() throws {
        let allocator = SubnetAllocator(settings: ClusterNetworkSettings(), leases: ["a": try Self.net("10.89.0.0/24")])
        #expect(try allocator.lease(for: "n", requested: try Self.net("10.89.42.0/24"), now: Self.now) == (try Self.net("10.89.42.0/24")))
        // Held by another node, outside the range, another prefix, host bits: the lowest free one instead.
        for requested in ["10.89.0.0/24", "10.90.3.0/24", "10.89.4.0/25", "10.89.4.0/23", "10.89.4.9/24"] {
            #expect(
                try allocator.lease(for: "n", requested: try Self.net(requested), now: Self.now) == (try Self.net("10.89.1.0/24")),
                "\(requested)")
        }
        // A lease stored with garbage (not a subnet of this cluster) is replaced.
        let garbage = SubnetAllocator(settings: ClusterNetworkSettings(), leases: ["n": try Self.net("192.168.0.0/24")])
        #expect(try garbage.lease(for: "n", now: Self.now) == (try Self.net("10.89.0.0/24")))
    }

    @Test func aRemovedNodesSubnetIsReusedOnlyAfterTheGracePeriod() throws {
        let old = try Self.net("10.89.0.0/24")
        let allocator = SubnetAllocator(
            settings: ClusterNetworkSettings(releaseGraceSeconds: 3600),
            released: [old: Self.now.addingTimeInterval(-60)])
        #expect(try allocator.lease(for: "n", now: Self.now) == (try Self.net("10.89.1.0/24")))
        // Not even to a node that reports holding it.
        #expect(try allocator.lease(for: "n", requested: old, now: Self.now) == (try Self.net("10.89.1.0/24")))
        #expect(allocator.expired(now: Self.now).isEmpty)
        let later = Self.now.addingTimeInterval(3600 - 60)
        #expect(try allocator.lease(for: "n", now: later) == old)
        #expect(allocator.expired(now: later) == [old])
        let noGrace = SubnetAllocator(settings: ClusterNetworkSettings(releaseGraceSeconds: 0), released: [old: Self.now])
        #expect(try noGrace.lease(for: "n", now: Self.now) == old)
    }

    @Test func anExhaustedRangeSaysHowManyNodesItHolds() throws {
        let settings = ClusterNetworkSettings(range: try Self.net("10.89.0.0/23"), nodePrefix: 24)
        let full = SubnetAllocator(settings: settings, leases: ["a": try Self.net("10.89.0.0/24"), "b": try Self.net("10.89.1.0/24")])
        #expect(try full.lease(for: "a", now: Self.now) == (try Self.net("10.89.0.0/24")))
        #expect(throws: ClusterNetworkError.rangeExhausted(try Self.net("10.89.0.0/23"), nodePrefix: 24, capacity: 2, reserved: 0)) {
            try full.lease(for: "c", now: Self.now)
        }
        let reserved = SubnetAllocator(
            settings: settings, leases: ["a": try Self.net("10.89.0.0/24")],
            released: [try Self.net("10.89.1.0/24"): Self.now])
        do {
            _ = try reserved.lease(for: "c", now: Self.now)
            Issue.record("a lease from a full range")
        } catch {
            #expect(error.description.contains("10.89.0.0/23 holds 2 node subnets of /24 and none is free"))
            #expect(error.description.contains("1 of them reserved after a node's removal"))
        }
    }

    @Test func settingsThatCannotWorkAreRefusedNamingTheNumbers() throws {
        func refusal(_ settings: ClusterNetworkSettings) -> String? {
            do { try settings.validate(); return nil } catch { return error.description }
        }
        #expect(refusal(ClusterNetworkSettings()) == nil)
        #expect(refusal(ClusterNetworkSettings(range: try Self.net("10.89.0.0/23"), nodePrefix: 24)) == nil)
        #expect(refusal(ClusterNetworkSettings(range: try Self.net("10.89.3.0/16")))?.contains("did you mean 10.89.0.0/16") == true)
        // Too small: both numbers named.
        let one = try #require(refusal(ClusterNetworkSettings(range: try Self.net("10.89.0.0/24"), nodePrefix: 24)))
        #expect(one.contains("10.89.0.0/24 (/24) holds only 1 node subnet of /24") && one.contains("at least /25"))
        let none = try #require(refusal(ClusterNetworkSettings(range: try Self.net("10.89.0.0/26"), nodePrefix: 24)))
        #expect(none.contains("(/26) holds no node subnets of /24"))
        #expect(refusal(ClusterNetworkSettings(nodePrefix: 31))?.contains("/31 is longer than /30") == true)
        #expect(refusal(ClusterNetworkSettings(range: try Self.net("127.0.0.0/16")))?.contains("loopback") == true)
        #expect(refusal(ClusterNetworkSettings(range: try Self.net("224.0.0.0/16")))?.contains("multicast") == true)
        #expect(refusal(ClusterNetworkSettings(mtu: 100))?.contains("576") == true)
        #expect(refusal(ClusterNetworkSettings(releaseGraceSeconds: -1)) != nil)
        #expect(refusal(ClusterNetworkSettings(releaseGraceSeconds: .nan)) != nil)
    }

    @Test func aRangeOverlappingTheManagerHostsNetworksIsRefused() throws {
        let settings = ClusterNetworkSettings()
        let own: (String) -> Bool = { $0.hasPrefix("pier") }
        let clear: [(name: String, address: IPv4Network)] = [
            ("lo", try Self.net("127.0.0.1/8")), ("eth0", try Self.net("192.168.1.20/24")),
            // Pier's own bridge and mesh interface hold addresses of the range.
            ("pier0", try Self.net("10.89.0.1/24")), ("pierwg0", try Self.net("10.89.0.0/32")),
        ]
        try settings.validate(hostInterfaces: clear, ignoring: own)
        for (name, address) in [("eth1", "10.89.200.5/24"), ("wlan0", "10.1.2.3/8"), ("br-lan", "10.89.0.1/16")] {
            let interface = try Self.net(address)
            do {
                try settings.validate(hostInterfaces: clear + [(name, interface)], ignoring: own)
                Issue.record("\(name) \(address) accepted")
            } catch {
                #expect(error == .overlapsHostInterface(settings.range, interface: name, address: interface))
                #expect(error.description.contains("overlaps \(address) on this host's interface \(name)"))
            }
        }
    }
}

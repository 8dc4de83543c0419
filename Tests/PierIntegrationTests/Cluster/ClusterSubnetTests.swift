import PierTestSupport
import Foundation
import Testing

/// Node subnets over real sessions (mutual TLS from network namespaces): each agent gets its own
/// subnet of the cluster range, the manager records the address the session comes from, and a
/// manager killed and restarted on its data root gives every node the same subnet and refuses
/// another range.
@Suite(.serialized, .integrationHost, .timeLimit(.minutes(10)))
struct ClusterSubnetTests {
    struct NodeNetworkView: Decodable {
        struct Description: Decodable { var hostname: String }
        struct Network: Decodable { var subnet: String; var reachability: String }
        var description: Description
        var address: String?
        var state: String
        var network: Network?
    }

    static func networks(_ cluster: TestCluster) throws -> [String: NodeNetworkView] {
        let r = try cluster.pier("node", "ls", "--format", "json")
        let nodes = try JSONDecoder().decode([NodeNetworkView].self, from: Data(r.stdout.utf8))
        return Dictionary(nodes.map { ($0.description.hostname, $0) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func eachNodeLeasesItsOwnSubnetAndKeepsItAcrossAManagerRestart() throws {
        let cluster = try TestCluster.start(agents: 2)
        defer { cluster.tearDown() }
        let before = try Self.networks(cluster)
        let a = try #require(before["node-a"]), b = try #require(before["node-b"])
        let subnets = [a.network?.subnet, b.network?.subnet].compactMap { $0 }
        #expect(subnets.count == 2 && Set(subnets).count == 2, "\(subnets)")
        #expect(subnets.allSatisfy { $0.hasPrefix("10.89.") && $0.hasSuffix(".0/24") }, "\(subnets)")
        let addressA = try cluster.member("node-a").address, addressB = try cluster.member("node-b").address
        #expect(a.address == addressA && b.address == addressB)
        let table = try cluster.ok("node", "ls")
        #expect(table.contains("SUBNET") && table.contains("MESH") && table.contains(subnets[0]))

        cluster.killManager()
        try cluster.startManager()
        try cluster.waitForReadyNodes(2)
        let after = try Self.networks(cluster)
        #expect(after["node-a"]?.network?.subnet == a.network?.subnet && after["node-b"]?.network?.subnet == b.network?.subnet)

        // Another range on the same data root: refused, naming the stored one; the state is untouched.
        cluster.killManager()
        let refused = try runProcess(
            Binaries.pier.path,
            [
                "manager", "--data-root", cluster.managerRoot.path, "--listen", cluster.managerHost,
                "--hostname", "manager", "--cluster-cidr", "10.90.0.0/16",
            ], timeout: 30)
        #expect(refused.status != 0)
        #expect(
            (refused.stdout + refused.stderr).contains("set up with --cluster-cidr 10.89.0.0/16 --node-prefix 24"),
            "\(refused.stdout)\(refused.stderr)")
        try cluster.startManager()
        try cluster.waitForReadyNodes(2)
        #expect(try Self.networks(cluster)["node-a"]?.network?.subnet == a.network?.subnet)
    }
}

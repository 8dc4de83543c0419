import Foundation
import Testing

@testable import PierRuntime

/// The bridge network of a node with a leased subnet: its conflist, and the switch to it while
/// the agent runs. No plugin runs here (no container is attached).
@Suite struct BridgeReconfigureTests {
    func conflist(at root: URL, name: String = "pier") throws -> [String: Any] {
        let url = root.appendingPathComponent("cni/\(name).conflist")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func bridgePlugin(_ list: [String: Any]) throws -> [String: Any] {
        try #require((list["plugins"] as? [[String: Any]])?.first)
    }

    @Test("a leased subnet: the bridge plugin stops masquerading and gives containers the mesh MTU; new containers use the new subnet")
    func reconfigure() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pier-bridge-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let network = try CNINetwork(configuration: NetworkConfiguration(), dataRoot: root)
        var bridge = try bridgePlugin(try conflist(at: root))
        #expect(bridge["ipMasq"] as? Bool == true && bridge["mtu"] == nil)

        var leased = NetworkConfiguration()
        leased.subnet = "10.89.3.0/24"
        leased.ipMasq = false
        leased.mtu = 1420
        try await network.reconfigure(leased)
        #expect(network.configuration == leased)
        bridge = try bridgePlugin(try conflist(at: root))
        #expect(bridge["ipMasq"] as? Bool == false && bridge["mtu"] as? Int == 1420)
        let ranges = (bridge["ipam"] as? [String: Any])?["ranges"] as? [[[String: Any]]]
        #expect(ranges?.first?.first?["subnet"] as? String == "10.89.3.0/24")
        #expect(CNINetwork.poolKey(leased) == "pier0 10.89.3.0/24 nomasq mtu 1420")
        #expect(CNINetwork.poolKey(NetworkConfiguration()) == "pier0 10.89.0.0/16")

        // The bridge itself cannot change under running containers; a bad MTU is refused. Neither changes anything.
        var renamed = leased
        renamed.bridge = "other0"
        await #expect(throws: NetworkError.self) { try await network.reconfigure(renamed) }
        var badMTU = leased
        badMTU.mtu = 70000
        await #expect { try await network.reconfigure(badMTU) } throws: { "\($0)".contains("bridge MTU 70000: expected 576 to 9216") }
        #expect(network.configuration == leased)
        #expect(try bridgePlugin(try conflist(at: root))["mtu"] as? Int == 1420)
    }
}

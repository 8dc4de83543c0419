import ArgumentParser
import Testing

@testable import pier

@Suite("pier coap client create and the daemon's CoAP flags")
struct CoAPCommandTests {
    @Test func createNeedsServicesAndVerbsAndParsesRepeatedFlags() throws {
        let c = try CoAPClientCreate.parse([
            "sensor-12", "--keys", "/k.json", "--service", "a", "--service", "b*", "--verb", "list", "--verb", "activate",
            "--allow", "devices", "--out", "/tmp/s",
        ])
        #expect(c.name == "sensor-12" && c.services == ["a", "b*"] && c.verbs == ["list", "activate"] && c.allow == ["devices"])
        #expect(c.uri == "coap://*")
        #expect(throws: (any Error).self) { try CoAPClientCreate.parse(["s", "--keys", "/k", "--verb", "list", "--out", "/o"]) }
        #expect(throws: (any Error).self) { try CoAPClientCreate.parse(["s", "--keys", "/k", "--service", "*", "--out", "/o"]) }
    }

    @Test func insecureTokenNeedsTheInterfaceAndReachesTheConfiguration() throws {
        let agent = try AgentCommand.parse(["--coap", "udp://127.0.0.1:5685", "--coap-keys", "/k.json", "--coap-insecure-token"])
        let options = try #require(agent.daemon.agentConfiguration(listen: []).coap)
        #expect(options.insecureToken && options.keysPath == "/k.json")
        #expect(try AgentCommand.parse(["--coap", "udp://127.0.0.1:5685", "--coap-keys", "/k.json"]).daemon.agentConfiguration(listen: []).coap?.insecureToken == false)
        #expect(throws: (any Error).self) { try AgentCommand.parse(["--coap-insecure-token"]) }
    }
}

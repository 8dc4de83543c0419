import PierCluster
import Testing

@testable import PierStack

/// The stack's one network: top-level `networks:` naming only `default`, a service's
/// `networks:` (list or mapping) with `aliases:`, and `deploy.endpoint_mode`.
@Suite struct ComposeNetworksTests {
    @Test func defaultNetworkWithAliasesInBothForms() throws {
        let file = try ComposeFile.parse(yaml: """
            networks:
              default: {}
            services:
              db:
                image: postgres
                networks:
                  default:
                    aliases: [database, pg]
              web:
                image: nginx
                networks: [default]
              worker:
                image: busybox
                networks:
                  default:
            """, directory: "/srv")
        let byName = Dictionary(uniqueKeysWithValues: file.services.map { ($0.name, $0) })
        #expect(byName["db"]?.aliases == ["database", "pg"])
        #expect(byName["web"]?.aliases == [])
        #expect(byName["worker"]?.aliases == [])
        #expect(file.warnings.isEmpty)
        // The stack keeps the aliases; the names are made from the short name and the stack.
        let stack = try StackDefinition(name: "shop", compose: file)
        #expect(stack.services.first { $0.name == "shop_db" }?.aliases == ["database", "pg"])
    }

    @Test func endpointModeDnsrrIsTakenAndVipWarns() throws {
        let dnsrr = try ComposeFile.parse(yaml: wrap("image: nginx\ndeploy:\n  endpoint_mode: dnsrr"), directory: "/")
        #expect(dnsrr.services.first?.endpointMode == .dnsrr)
        #expect(dnsrr.warnings.isEmpty)
        let vip = try ComposeFile.parse(yaml: wrap("image: nginx\ndeploy:\n  endpoint_mode: vip"), directory: "/")
        #expect(vip.services.first?.endpointMode == .vip)
        #expect(vip.warnings.count == 1)
        #expect(vip.warnings.first?.contains("services.web.deploy.endpoint_mode") == true)
        #expect(vip.warnings.first?.contains("DNS round robin") == true)
        let bad = problems("image: nginx\ndeploy:\n  endpoint_mode: ipvs")
        #expect(bad.map(\.path) == ["services.web.deploy.endpoint_mode"])
    }

    @Test func otherNetworksAreRefusedNamingTheDefaultOne() {
        let top = problems(ofFile: """
            networks:
              backend: {driver: overlay}
              default: {driver: bridge}
            services:
              web: {image: nginx}
            """)
        #expect(top.map(\.path) == ["networks.backend", "networks.default"])
        #expect(top.first?.message.contains("only the stack's default network exists") == true)

        let list = problems("image: nginx\nnetworks: [default, backend]")
        #expect(list.map(\.path) == ["services.web.networks[1]"])
        #expect(list.first?.message.contains("only the stack's default network exists") == true)

        let map = problems("image: nginx\nnetworks:\n  backend:\n    aliases: [x]")
        #expect(map.map(\.path) == ["services.web.networks.backend"])

        let address = problems("image: nginx\nnetworks:\n  default:\n    ipv4_address: 10.0.0.5")
        #expect(address.map(\.path) == ["services.web.networks.default.ipv4_address"])

        let scalar = problems("image: nginx\nnetworks: default")
        #expect(scalar.map(\.path) == ["services.web.networks"])
    }

    @Test func aliasesMustBeDNSLabels() {
        let p = problems("image: nginx\nnetworks:\n  default:\n    aliases: [good, \"bad.name\", \"-x\", \"\(String(repeating: "a", count: 64))\"]")
        #expect(p.map(\.path) == [
            "services.web.networks.default.aliases[1]", "services.web.networks.default.aliases[2]",
            "services.web.networks.default.aliases[3]",
        ])
        #expect(p.allSatisfy { $0.message.contains("is not a valid name") })
    }

    @Test func aliasesNeedTheBridgeNetwork() {
        let p = problems("image: nginx\nnetwork_mode: host\nnetworks:\n  default:\n    aliases: [web2]")
        #expect(p.map(\.path) == ["services.web.networks"])
    }
}

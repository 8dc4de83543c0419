import Testing
@testable import PierClient

@Suite("Agent addresses")
struct AgentEndpointTests {
    @Test func flagWinsOverEnvironmentWhichWinsOverDefault() throws {
        #expect(try AgentEndpoint.resolve(flag: "unix:///run/a.sock", environment: ["PIER_HOST": "unix:///run/b.sock"]) == .unix(path: "/run/a.sock"))
        #expect(try AgentEndpoint.resolve(flag: nil, environment: ["PIER_HOST": "unix:///run/b.sock"]) == .unix(path: "/run/b.sock"))
        #expect(try AgentEndpoint.resolve(flag: nil, environment: [:]) == .unix(path: "/var/lib/pier/pier.sock"))
    }

    @Test func parsesForms() throws {
        #expect(try AgentEndpoint(parsing: "/tmp/x.sock") == .unix(path: "/tmp/x.sock"))
        #expect(try AgentEndpoint(parsing: "tcp://gw.local:7443") == .tcp(host: "gw.local", port: 7443))
        #expect(try AgentEndpoint(parsing: "tcp://[fe80::1]:7443") == .tcp(host: "fe80::1", port: 7443))
        #expect(AgentEndpoint.tcp(host: "fe80::1", port: 7443).description == "tcp://[fe80::1]:7443")
    }

    @Test(arguments: ["unix://relative.sock", "http://x", "tcp://host", "tcp://host:0", "tcp://:80", "pier.sock"])
    func refusesBadAddresses(text: String) {
        let error = #expect(throws: ClientError.self) { try AgentEndpoint(parsing: text) }
        #expect(error?.description.hasPrefix("invalid agent address \"\(text)\"") == true)
    }

    @Test func socketPathIsPercentEncodedIntoTheURL() {
        #expect(AgentEndpoint.unix(path: "/var/lib/pier/pier.sock").url(for: "/v1/info")
                == "http+unix://%2Fvar%2Flib%2Fpier%2Fpier.sock/v1/info")
    }

    @Test func queryAndSegmentsAreEncoded() {
        #expect(AgentClient.target(path: "/v1/images/" + AgentClient.segment("localhost:5000/app:1"), query: [("tag", "a b&c")])
                == "/v1/images/localhost%3A5000%2Fapp%3A1?tag=a%20b%26c")
    }

    @Test func tcpNeedsATLSDirectory() async {
        let error = await #expect(throws: ClientError.self) {
            try await AgentClient.withClient(endpoint: .tcp(host: "127.0.0.1", port: 7443)) { _ in 0 }
        }
        #expect(error == .tlsNotSupported(endpoint: "tcp://127.0.0.1:7443"))
    }
}

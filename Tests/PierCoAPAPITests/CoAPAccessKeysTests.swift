import Foundation
import PierCoAP
import PierOSCORE
import Testing

@testable import PierCoAPAPI

/// A keys file entry as `pier coap client create` writes it.
func oscoreEntry(
    _ name: String, clientID: String = "5a01", services: [String] = ["*"], verbs: [String] = CoAPVerb.allCases.map(\.rawValue),
    allow: [String]? = nil
) -> String {
    let allowJSON = allow.map { #","allow":[\#($0.map { "\"\($0)\"" }.joined(separator: ","))]"# } ?? ""
    return #"{"name":"\#(name)","oscore":{"masterSecret":"000102030405060708090a0b0c0d0e0f","masterSalt":"9e7ca92223786340","clientID":"\#(clientID)","serverID":"01"},"#
        + #""scope":{"services":[\#(services.map { "\"\($0)\"" }.joined(separator: ","))],"verbs":[\#(verbs.map { "\"\($0)\"" }.joined(separator: ","))]\#(allowJSON)}}"#
}

func keysFile(_ entries: String...) -> Data { Data(#"{"clients":[\#(entries.joined(separator: ","))]}"#.utf8) }

@Suite("The CoAP keys file: OSCORE contexts and scopes, refused with a reason when wrong")
struct CoAPAccessKeysTests {
    @Test func parsesClientsWithContextsAndScopes() throws {
        let keys = try CoAPAccessKeys.parse(
            keysFile(
                oscoreEntry("sensor-12", services: ["sensor-*"], verbs: ["list", "status"]),
                oscoreEntry("admin", clientID: "5a02", allow: ["host-network", "devices"])),
            source: "k", allowTokens: false)
        #expect(keys.clientNames == ["sensor-12", "admin"] && !keys.allowsTokens)
        let sensor = try #require(keys.client(named: "sensor-12"))
        #expect(sensor.scope == CoAPScope(services: ["sensor-*"], verbs: [.list, .status]))
        #expect(sensor.scope.covers("sensor-7") && !sensor.scope.covers("sensor") && !sensor.scope.covers("web"))
        let admin = try #require(keys.client(named: "admin"))
        #expect(admin.scope.allow == [.hostNetwork, .device] && admin.scope.verbs == Set(CoAPVerb.allCases))
        // The daemon's side of the context: its sender ID is serverID, the client's is the recipient ID.
        let context = try #require(sensor.oscore)
        #expect(context.senderID == [0x01] && context.recipientID == [0x5a, 0x01])
        #expect(keys.oscoreContexts.map(\.name) == ["sensor-12", "admin"])
    }

    static func error(_ data: Data, allowTokens: Bool = false) -> String {
        do {
            _ = try CoAPAccessKeys.parse(data, source: "keys.json", allowTokens: allowTokens)
            return "accepted"
        } catch { return error.description }
    }

    static func error(_ text: String, allowTokens: Bool = false) -> String { error(Data(text.utf8), allowTokens: allowTokens) }

    @Test func refusesTheOldLineFormatSayingWhatChanged() {
        let e = Self.error("# client token\nsensor-12 6f1d0c3b9a8e47d2b5f0a1c6e9d3b7a4\n")
        #expect(e.contains("old line format") && e.contains("JSON now") && e.contains("docs/coap-api.md") && e.contains("pier coap client create"), "\(e)")
    }

    @Test func refusesTokensUnlessInsecureTokensAreAllowed() throws {
        let token = #"{"name":"legacy","token":"0123456789abcdef0123","scope":{"services":["*"],"verbs":["list"]}}"#
        let refused = Self.error(keysFile(token))
        #expect(refused.contains("--coap-insecure-token") && refused.contains("in clear") && refused.contains("legacy"), "\(refused)")
        let keys = try CoAPAccessKeys.parse(keysFile(token, oscoreEntry("s")), source: "k", allowTokens: true)
        var m = CoAPMessage(type: .confirmable, code: .get, messageID: 1)
        m.options.append(CoAPOption(CoAPAccessKeys.tokenOption, string: "0123456789abcdef0123"))
        #expect(keys.tokenClient(for: m)?.name == "legacy")
        m.setOptions(CoAPAccessKeys.tokenOption, [CoAPOption(CoAPAccessKeys.tokenOption, string: "0123456789abcdef0124")])
        #expect(keys.tokenClient(for: m) == nil)
        #expect(Self.error(keysFile(#"{"name":"t","token":"short","scope":{"services":["*"],"verbs":["list"]}}"#), allowTokens: true)
            .contains("16 to 255 bytes"))
    }

    @Test(arguments: [
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        (#"{"clients":[]}"#, "no clients"),
        (#"{"clients":[],"extra":1}"#, "unknown key \"extra\""),
        (#"{"client":[]}"#, "unknown key \"client\""),
        (#"{"clients":[{"name":"a"}]}"#, "clients[0].scope: missing"),
        (#"{"clients":{}}"#, "clients: wrong type"),
    ])
    func refusesMalformedFiles(text: String, why: String) {
        let e = Self.error(text)
        #expect(e.contains("keys.json") && e.contains(why), "\(e)")
    }

    @Test(arguments: [
        (oscoreEntry("a").replacingOccurrences(of: "000102030405060708090a0b0c0d0e0f", with: "0001zz"), "masterSecret: \"0001zz\" is not hex"),
        (oscoreEntry("a").replacingOccurrences(of: "000102030405060708090a0b0c0d0e0f", with: "00010203"), "masterSecret: 4 bytes; use 16 to 64"),
        (oscoreEntry("a", clientID: "0102030405060708"), "clientID: 8 bytes; use 0 to 7"),
        (oscoreEntry("a", clientID: "01"), "clientID and serverID must differ"),
        (oscoreEntry("a", services: []), "services: list at least one"),
        (oscoreEntry("a", services: ["we b"]), "\"we b\" is not a service name"),
        (oscoreEntry("a", services: ["*a*"]), "\"*a*\" is not a service name"),
        (oscoreEntry("a", verbs: ["list", "write"]), "verbs: \"write\" is not one of list, status, activate, stop, start, remove"),
        (oscoreEntry("a", verbs: []), "verbs: list the verbs"),
        (oscoreEntry("a", allow: ["root"]), "allow: \"root\" is not one of privileged, host-network"),
        (oscoreEntry("a b"), "name: use 1 to 64"),
        (oscoreEntry("a").replacingOccurrences(of: #""masterSalt""#, with: #""salt""#), "unknown key \"salt\""),
        (oscoreEntry("a").replacingOccurrences(of: #""scope""#, with: #""scopes""#), "unknown key \"scopes\""),
        (#"{"name":"a","scope":{"services":["*"],"verbs":["list"]}}"#, "give it an \"oscore\" context"),
    ])
    func refusesBadEntriesNamingTheClientAndKey(entry: String, why: String) {
        let e = Self.error(keysFile(entry))
        #expect(e.contains(why) && e.contains("keys.json"), "\(e)")
    }

    @Test func refusesDuplicateNamesAndClientIDs() {
        #expect(Self.error(keysFile(oscoreEntry("a"), oscoreEntry("a", clientID: "77"))).contains("listed twice"))
        #expect(Self.error(keysFile(oscoreEntry("a"), oscoreEntry("b"))).contains("same client ID 5a01"))
    }

    @Test func refusesAFileOthersCanRead() throws {
        let path = NSTemporaryDirectory() + "pier-keys-\(UUID().uuidString.prefix(8))"
        try keysFile(oscoreEntry("a")).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        chmod(path, 0o640)
        #expect(throws: ConstrainedAPIError.self) { try CoAPAccessKeys.load(path, allowTokens: false) }
        chmod(path, 0o600)
        #expect(try CoAPAccessKeys.load(path, allowTokens: false).clientNames == ["a"])
    }

    @Test func writesWhatItReads() throws {
        let file = try CoAPKeysFile.decode(keysFile(oscoreEntry("a", allow: ["devices"])), source: "k")
        #expect(try CoAPKeysFile.decode(try file.encoded(), source: "k") == file)
        #expect(file.clients.first?.scope.allow == ["devices"])
    }

    @Test func provisioningAddsClientsAndWritesTheirAiocoapSide() throws {
        let dir = NSTemporaryDirectory() + "pier-provision-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keys = dir + "/keys.json"
        let scope = CoAPKeysFile.Scope(services: ["sensor-*"], verbs: ["list", "status"], allow: ["devices"])
        let a = try CoAPClientProvisioning.addClient(name: "a", scope: scope, keysPath: keys)
        let b = try CoAPClientProvisioning.addClient(name: "b", scope: scope, keysPath: keys)
        #expect(try FileManager.default.attributesOfItem(atPath: keys)[.posixPermissions] as? Int == 0o600)
        let loaded = try CoAPAccessKeys.load(keys, allowTokens: false)
        #expect(loaded.clientNames == ["a", "b"] && loaded.client(named: "b")?.scope.allow == [.device])
        #expect(a.oscore?.clientID != b.oscore?.clientID && a.oscore?.masterSecret != b.oscore?.masterSecret)
        #expect(a.oscore?.masterSecret.count == 64 && a.oscore?.masterSalt?.count == 16)
        #expect(throws: ConstrainedAPIError.self) { try CoAPClientProvisioning.addClient(name: "a", scope: scope, keysPath: keys) }
        #expect(throws: ConstrainedAPIError.self) {
            try CoAPClientProvisioning.addClient(name: "c", scope: .init(services: ["*"], verbs: ["fly"]), keysPath: keys)
        }
        #expect(try CoAPAccessKeys.load(keys, allowTokens: false).clientNames == ["a", "b"], "a refused client changed the file")

        let credentials = try CoAPClientProvisioning.writeAiocoapClient(a, to: dir + "/a", uriPattern: "coap://gw:5685/*")
        let map = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: credentials))) as? [String: [String: [String: String]]]
        let basedir = try #require(map?["coap://gw:5685/*"]?["oscore"]?["basedir"])
        let settings = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: basedir + "settings.json"))) as? [String: String]
        #expect(settings?["sender-id_hex"] == a.oscore?.clientID && settings?["recipient-id_hex"] == "01")
        #expect(settings?["secret_hex"] == a.oscore?.masterSecret && settings?["salt_hex"] == a.oscore?.masterSalt)
        #expect(try FileManager.default.attributesOfItem(atPath: basedir + "settings.json")[.posixPermissions] as? Int == 0o600)

        // A file that does not read is refused and left as it was.
        try "sensor-1 0123456789abcdef0123\n".write(toFile: keys, atomically: true, encoding: .utf8)
        #expect(throws: ConstrainedAPIError.self) { try CoAPClientProvisioning.addClient(name: "d", scope: scope, keysPath: keys) }
        #expect(try String(contentsOfFile: keys, encoding: .utf8) == "sensor-1 0123456789abcdef0123\n")
    }
}

import ArgumentParser
import Foundation
import PierCoAPAPI

/// `pier coap client create`: a new OSCORE client in the keys file, and its side for aiocoap-client.
struct CoAPClientCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Add a CoAP client with a fresh OSCORE context to a keys file, and write its side for aiocoap-client.",
        discussion: "The keys file (created mode 600 if missing) gets the daemon's side; the output directory gets "
            + "credentials.json and oscore/settings.json for the client, e.g. "
            + "`aiocoap-client --credentials DIR/credentials.json coap://gateway:5685/services`. "
            + "A running daemon reads the keys file at start: restart it to admit the client. See docs/coap-api.md."
    )

    @Argument(help: "The client's name (letters, digits, '.', '_', '-'; up to 64).")
    var name: String

    @Option(help: ArgumentHelp("The keys file the daemon's --coap-keys points at.", valueName: "path"))
    var keys: String

    @Option(name: .customLong("service"), help: ArgumentHelp(
        "A service it may touch (repeatable): a name, or a pattern with one '*' (`sensor-*`, `*`).", valueName: "name"))
    var services: [String] = []

    @Option(name: .customLong("verb"), help: ArgumentHelp(
        "What it may do (repeatable): list, status (GET and observe), activate, stop, start, remove.", valueName: "verb"))
    var verbs: [String] = []

    @Option(name: .customLong("allow"), help: ArgumentHelp(
        "What its activations may ask for (repeatable; default none): host-network, bind-mounts, devices, capabilities, privileged.",
        valueName: "permission"))
    var allow: [String] = []

    @Option(name: [.short, .long], help: ArgumentHelp("Directory for the client's side (aiocoap credentials and context).", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp("The URIs the client's credentials apply to, aiocoap's pattern syntax.", valueName: "pattern"))
    var uri: String = "coap://*"

    func validate() throws {
        guard !services.isEmpty else { throw ValidationError("give the services it may touch with --service NAME (or --service '*')") }
        guard !verbs.isEmpty else {
            throw ValidationError("give what it may do with --verb (repeatable): \(CoAPVerb.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let scope = CoAPKeysFile.Scope(services: services, verbs: verbs, allow: allow.isEmpty ? nil : allow)
        do {
            let entry = try CoAPClientProvisioning.addClient(name: name, scope: scope, keysPath: keys)
            let credentials = try CoAPClientProvisioning.writeAiocoapClient(entry, to: out, uriPattern: uri)
            print("added client \(name) (client ID \(entry.oscore?.clientID ?? "")) to \(keys); restart the daemon to admit it")
            print("wrote \(credentials); use: aiocoap-client --credentials \(credentials) coap://HOST:PORT/services")
        } catch {
            throw ValidationError(error.description)
        }
    }
}

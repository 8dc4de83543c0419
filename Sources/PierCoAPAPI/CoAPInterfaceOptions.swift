import Foundation

/// Where the CoAP interface listens (`udp://HOST:PORT`), the file of its clients (OSCORE contexts
/// and scopes), and whether clients with a cleartext token are accepted (`--coap-insecure-token`).
public struct CoAPInterfaceOptions: Sendable {
    public var address: String
    public var keysPath: String
    public var insecureToken: Bool
    public init(address: String, keysPath: String, insecureToken: Bool = false) {
        self.address = address; self.keysPath = keysPath; self.insecureToken = insecureToken
    }

    /// `DATA_ROOT/coap`: the OSCORE sequence file.
    public func stateDirectory(dataRoot: URL) -> String { dataRoot.appendingPathComponent("coap").path }
}

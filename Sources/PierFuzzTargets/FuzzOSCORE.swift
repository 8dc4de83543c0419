import PierCoAP
import PierOSCORE

/// OSCORE targets: the option value, a server opening datagrams, and a server opening requests
/// sealed with a context it knows, so the decrypted plaintext's parser is reached too.
enum FuzzOSCORE {
    /// The client's context and the server's view of the same client (IDs swapped).
    static let contexts: (client: OSCORESecurityContext, server: OSCORESecurityContext)? = {
        let secret: [UInt8] = Array(0x01...0x10)
        let salt: [UInt8] = [0x9E, 0x7C, 0xA9, 0x22, 0x23, 0x78, 0x63, 0x40]
        guard let client = try? OSCORESecurityContext(masterSecret: secret, masterSalt: salt, senderID: [0x01], recipientID: []),
            let server = try? OSCORESecurityContext(masterSecret: secret, masterSalt: salt, senderID: [], recipientID: [0x01])
        else { return nil }
        return (client, server)
    }()
    /// The server's Echo value; a seed carries it so the fuzzer reaches requests that are served.
    static let echo: [UInt8] = [0xEC, 0x40, 0xEC, 0x40]

    static func run(_ bytes: [UInt8]) -> String? {
        if let value = try? OSCOREOptionValue(decoding: bytes) {
            guard (try? OSCOREOptionValue(decoding: value.encoded())) == value else {
                return "option value \(value) does not survive its own encoding"
            }
        }
        guard let contexts else { return "the fixed OSCORE contexts cannot be made" }
        // The bytes as a datagram, protected or not, for a server that knows one client.
        if let message = try? CoAPMessage(decoding: bytes) {
            if let problem = serve(message, contexts: contexts) { return problem }
        }
        // The bytes as the plaintext of a request sealed by that client (§5.3: code, options, payload).
        guard let sequence = bytes.first.map(UInt64.init) else { return nil }
        let piv = OSCOREOptionValue.partialIV(sequence)
        let value = OSCOREOptionValue(partialIV: piv, kid: contexts.client.senderID)
        guard
            let sealed = try? AESCCM16_64_128.seal(
                Array(bytes.dropFirst()), key: contexts.client.senderKey,
                nonce: contexts.client.nonce(partialIV: piv, idPIV: contexts.client.senderID),
                aad: OSCORESecurityContext.aad(requestKID: contexts.client.senderID, requestPIV: piv))
        else { return nil }
        let outer = CoAPMessage(
            type: .confirmable, code: .post, messageID: 1, token: CoAPToken(7),
            options: [CoAPOption(.oscore, value: value.encoded())], payload: sealed)
        return serve(outer, contexts: contexts)
    }

    /// Opens `message` on a fresh server; a request it serves gets a sealed response, which the
    /// client must open to the same code and payload.
    private static func serve(
        _ message: CoAPMessage, contexts: (client: OSCORESecurityContext, server: OSCORESecurityContext)
    ) -> String? {
        guard var server = try? OSCOREServerState(clients: [("fuzz", contexts.server)], reserved: [:], echo: { echo }) else {
            return "a server with one client cannot be made"
        }
        switch server.open(message) {
        case .notProtected, .refused:
            return nil
        case .echoChallenge(let client, _):
            _ = server.echoChallenge(client: client)
            return nil
        case .request(let inner, let client, let binding):
            _ = inner.uriPath
            let response = CoAPResponse(code: .content, options: [CoAPOption(.contentFormat, uint: 0)], payload: inner.payload)
            let sealed: CoAPResponse
            do { sealed = try server.seal(response, client: client, binding: binding, ownSequence: nil) } catch {
                return "sealing a response to a served request failed: \(error)"
            }
            let wire = CoAPMessage(type: .acknowledgement, code: sealed.code, messageID: message.messageID, token: message.token,
                                   options: sealed.options, payload: sealed.payload)
            guard let (opened, _) = try? OSCOREProtection.unprotectResponse(wire, context: contexts.client, binding: binding) else {
                return "the client cannot open the server's sealed response"
            }
            guard opened.code == response.code, opened.payload == response.payload else {
                return "the opened response differs from the sealed one"
            }
            return nil
        }
    }
}

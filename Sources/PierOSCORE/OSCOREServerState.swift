import PierCoAP

/// The server side of OSCORE for a set of clients, as a pure state machine: finds the context for
/// a request's kid, checks and advances its replay window, opens it, and numbers and seals the
/// answers. No I/O: when a sender sequence number beyond what was reserved on disk is needed,
/// it says so and the caller persists the new bound before the number is used.
///
/// Crash safety (RFC 8613 Appendix B.1):
/// - Own sequence numbers (notifications, Echo challenges) are reserved `lookahead` at a time: a
///   restarted server starts from the persisted bound, above any it used (B.1.1).
/// - Replay windows are not persisted. A restarted server knows nothing of what it accepted, so
///   each client's window starts uninitialized: the first request is answered 4.01 with an Echo
///   option (RFC 9175) inside a protected response, and only a request that returns that Echo
///   value, which could not exist before the restart, starts the window (B.1.2). A replay of any
///   earlier request is never served; an aiocoap client repeats the request by itself.
public struct OSCOREServerState: Sendable {
    /// One client's context and its counters.
    public struct Client: Sendable {
        public var name: String
        public var context: OSCORESecurityContext
        /// Nil until an Echo-verified request started it (see above).
        public var window: OSCOREReplayWindow?
        /// The Echo value that starts the window; fresh for every server start.
        public var echo: [UInt8]
        /// The next own sequence number, and the first one not yet reserved on disk.
        public var nextSequence: UInt64
        public var reservedBelow: UInt64
    }

    /// What opening a request gave.
    public enum Opened: Sendable {
        /// No OSCORE option: not for this layer.
        case notProtected
        /// Verified and fresh: serve `request` for client `client`.
        case request(CoAPMessage, client: Int, binding: OSCORERequestBinding)
        /// Verified but the window is unknown (after a restart): answer this sealed 4.01 with Echo.
        case echoChallenge(client: Int, binding: OSCORERequestBinding)
        /// Refused: answer `error.response`, unprotected.
        case refused(OSCOREError)
    }

    struct KIDKey: Hashable, Sendable {
        var kid: [UInt8]
        var kidContext: [UInt8]?
    }

    /// Own sequence numbers reserved per write of the sequence file.
    public var lookahead: UInt64
    public private(set) var clients: [Client]
    private var byKID: [KIDKey: Int] = [:]

    /// Clients with their contexts; `reserved` is what the sequence file says each context
    /// (by fingerprint) may have used; `echo` makes each client's Echo value.
    public init(
        clients: [(name: String, context: OSCORESecurityContext)], reserved: [String: UInt64], lookahead: UInt64 = 256,
        echo: () -> [UInt8]
    ) throws(OSCOREError) {
        self.lookahead = max(1, lookahead)
        self.clients = clients.map {
            let start = reserved[$0.context.fingerprint] ?? 0
            return Client(name: $0.name, context: $0.context, window: nil, echo: echo(), nextSequence: start, reservedBelow: start)
        }
        for (i, c) in self.clients.enumerated() {
            let key = KIDKey(kid: c.context.recipientID, kidContext: c.context.idContext)
            if let previous = byKID.updateValue(i, forKey: key) {
                throw .invalidContext("clients \(self.clients[previous].name) and \(c.name) use the same client ID \(hex(key.kid))"
                    + (key.kidContext.map { " and ID context \(hex($0))" } ?? ""))
            }
        }
    }

    /// The sequence-file bounds of every context, by fingerprint.
    public var reservations: [String: UInt64] {
        Dictionary(clients.map { ($0.context.fingerprint, $0.reservedBelow) }, uniquingKeysWith: max)
    }

    // MARK: Requests

    /// Opens a request (RFC 8613 §8.2), advancing the client's replay window if it is served.
    public mutating func open(_ message: CoAPMessage) -> Opened {
        guard let option = message.option(.oscore) else { return .notProtected }
        guard message.options(.oscore).count == 1 else { return .refused(.malformedOption("the option is repeated")) }
        guard message.code == .post || message.code == .fetch else { return .refused(.outerMethod(message.code)) }
        if message.option(.block1) != nil || message.option(.block2) != nil {
            return .refused(.unsupportedOuterOption("outer block-wise transfer is not supported; send blocks inside OSCORE"))
        }
        let value: OSCOREOptionValue
        do { value = try OSCOREOptionValue(decoding: option.value) } catch { return .refused(error) }
        guard let kid = value.kid else { return .refused(.missingField("a request's OSCORE option carries no kid")) }
        guard let sequence = value.sequence else { return .refused(.missingField("a request's OSCORE option carries no Partial IV")) }
        // A kid context is optional on the wire once both sides know it (§6.1).
        guard let index = byKID[KIDKey(kid: kid, kidContext: value.kidContext)]
            ?? (value.kidContext == nil ? clients.indices.first { clients[$0].context.recipientID == kid } : nil)
        else { return .refused(.contextNotFound(kid: kid, kidContext: value.kidContext)) }
        let client = clients[index]
        if let ctx = client.context.idContext, let sent = value.kidContext, sent != ctx {
            return .refused(.contextNotFound(kid: kid, kidContext: sent))
        }
        if let window = client.window, !window.isFresh(sequence) { return .refused(.replay(sequence: sequence)) }
        let inner: CoAPMessage
        let binding: OSCORERequestBinding
        do { (inner, binding) = try OSCOREProtection.unprotectRequest(message, value: value, context: client.context) } catch {
            return .refused(error)
        }
        if clients[index].window == nil {
            guard inner.option(.echo)?.value == client.echo else { return .echoChallenge(client: index, binding: binding) }
            clients[index].window = .startingAt(sequence)
        } else {
            clients[index].window?.accept(sequence)
        }
        var served = inner
        served.setOptions(.echo, [])
        return .request(served, client: index, binding: binding)
    }

    // MARK: Responses

    /// A sequence number of the server's own for `client`. When it lies beyond what is reserved on
    /// disk, `persist` is the new bound: the caller writes it to the sequence file and then calls
    /// `confirm`, before the number is used; until then nothing is taken.
    public mutating func takeSequence(client: Int) -> (sequence: UInt64, persist: UInt64?)? {
        let n = clients[client].nextSequence
        guard n <= OSCORESecurityContext.maxSequence else { return nil }
        guard n >= clients[client].reservedBelow else {
            clients[client].nextSequence = n + 1
            return (n, nil)
        }
        return (n, min(n + lookahead, OSCORESecurityContext.maxSequence + 1))
    }

    /// The bound `takeSequence` asked for is on disk: `sequence` is taken.
    public mutating func confirm(client: Int, sequence: UInt64, reservedBelow bound: UInt64) {
        clients[client].reservedBelow = max(clients[client].reservedBelow, bound)
        clients[client].nextSequence = max(clients[client].nextSequence, sequence + 1)
    }

    /// Seals a response; `ownSequence` when the caller took one with `takeSequence`.
    public func seal(_ response: CoAPResponse, client: Int, binding: OSCORERequestBinding, ownSequence: UInt64?) throws(OSCOREError)
        -> CoAPResponse
    {
        try OSCOREProtection.protectResponse(response, context: clients[client].context, binding: binding, ownSequence: ownSequence)
    }

    /// The 4.01 that asks a client to repeat its request with the Echo value (Appendix B.1.2).
    public func echoChallenge(client: Int) -> CoAPResponse {
        CoAPResponse(
            code: .unauthorized, diagnostic: "repeat the request with this Echo option (OSCORE replay window recovery)",
            options: [CoAPOption(.echo, value: clients[client].echo), CoAPOption(.maxAge, uint: 0)])
    }
}

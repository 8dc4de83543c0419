/// The CoAP message layer (RFC 7252 §4) as a pure state machine: reliability, deduplication,
/// message IDs, tokens, request/response matching and congestion control (NSTART).
///
/// It never does I/O and never reads a clock: every call takes `now` (seconds on a monotonic
/// clock) and returns the actions the caller performs: send datagrams, hand requests to the
/// server logic, deliver responses to waiting clients, fail them, and arm one timer.
///
/// One layer serves one socket, as client and server at once. Requests sent as NON do not count
/// against NSTART (only confirmable exchanges awaiting their ACK do). Every table is capped.
public struct CoAPMessageLayer<Peer: Hashable & Sendable>: Sendable {
    /// Transmission parameters (RFC 7252 §4.8) and table caps.
    public struct Configuration: Sendable {
        /// Initial retransmission timeout, seconds.
        public var ackTimeout: Double = 2
        /// The initial timeout is chosen in [ackTimeout, ackTimeout × ackRandomFactor].
        public var ackRandomFactor: Double = 1.5
        /// Retransmissions of a confirmable message before giving up.
        public var maxRetransmit: Int = 4
        /// Confirmable requests awaiting acknowledgement per peer; further requests queue.
        public var nstart: Int = 1
        /// How long a received confirmable message ID is remembered (and its response replayed), seconds.
        public var exchangeLifetime: Double = 247
        /// How long a received non-confirmable message ID is remembered, seconds.
        public var nonLifetime: Double = 145
        /// How long a client waits for a separate response after an empty ACK, or for the answer
        /// to a NON request (MAX_TRANSMIT_WAIT by default), seconds.
        public var responseTimeout: Double = 93
        /// Remembered (peer, message ID) pairs; the oldest is forgotten first.
        public var maxDeduplicationEntries: Int = 4096
        /// Requests queued behind NSTART for one peer.
        public var maxQueuedPerPeer: Int = 32
        /// Client requests pending in total (queued, in flight or awaiting a response).
        public var maxPendingRequests: Int = 1024
        /// Confirmable responses and notifications this server may have unacknowledged at once.
        public var maxOutstandingResponses: Int = 1024
        /// Options the application understands in addition to the registry's known ones;
        /// a request with any other critical option is answered 4.02 Bad Option.
        public var additionalKnownOptions: Set<CoAPOptionNumber> = []

        public init() {}

        /// ACK_TIMEOUT × ((2 ^ MAX_RETRANSMIT) − 1) × ACK_RANDOM_FACTOR: 45 s with the defaults.
        public var maxTransmitSpan: Double { ackTimeout * Double((1 << maxRetransmit) - 1) * ackRandomFactor }
    }

    /// What the caller must do.
    public enum Action: Sendable {
        /// Send this datagram.
        case send(CoAPMessage, to: Peer)
        /// A request arrived: pass it to the server logic, then call `respond` or `acknowledge`.
        case handleRequest(CoAPMessage, from: Peer)
        /// A response (or notification) for a client request.
        case deliver(CoAPMessage, to: CoAPRequestHandle)
        /// The client request failed; nothing more will arrive for it.
        case fail(CoAPRequestHandle, CoAPRequestFailure)
        /// A confirmable response or notification this server sent was rejected with Reset, or
        /// never acknowledged: an observer behind this token is gone.
        case responseRejected(token: CoAPToken, peer: Peer, reason: CoAPRequestFailure)
        /// Call `timerFired(now:)` at this time (replacing any earlier timer).
        case scheduleTimer(at: Double)
    }

    struct PeerMID: Hashable, Sendable {
        var peer: Peer
        var messageID: UInt16
    }

    struct PeerToken: Hashable, Sendable {
        var peer: Peer
        var token: CoAPToken
    }

    enum Owner: Sendable {
        case request(CoAPRequestHandle)
        case response(CoAPToken)
    }

    /// A confirmable message we sent and retransmit until acknowledged.
    struct Outgoing: Sendable {
        var message: CoAPMessage
        var peer: Peer
        var owner: Owner
        var retransmissions: Int
        var timeout: Double
        var deadline: Double
    }

    /// A client request: queued, in flight, or awaiting its (separate) response.
    struct Pending: Sendable {
        var peer: Peer
        var token: CoAPToken
        var observe: Bool
        var responseDeadline: Double?
        var delivered: Bool
    }

    /// A received message ID: the reply to replay if it comes again.
    struct Seen: Sendable {
        var expiry: Double
        var reply: CoAPMessage?
    }

    public var configuration: Configuration
    private var random: CoAPRandom
    private var nextMessageID: UInt16
    private var nextHandle: UInt64 = 1
    private(set) var outstanding: [PeerMID: Outgoing] = [:]
    private var outstandingResponses = 0
    private var inFlight: [Peer: Int] = [:]
    private var queues: [Peer: [(CoAPRequestHandle, CoAPMessage)]] = [:]
    private(set) var pending: [CoAPRequestHandle: Pending] = [:]
    private var byToken: [PeerToken: CoAPRequestHandle] = [:]
    private(set) var seen: [PeerMID: Seen] = [:]
    private var seenOrder: [PeerMID] = []
    private var seenHead = 0
    private var scheduled: Double?

    /// A layer using `random` for message IDs, tokens and retransmission jitter.
    public init(configuration: Configuration = Configuration(), random: CoAPRandom = .system()) {
        self.configuration = configuration
        self.random = random
        self.nextMessageID = UInt16.random(in: 0...UInt16.max, using: &self.random)
    }

    /// Client requests not yet finished (queued, in flight, awaiting a response or observing).
    public var pendingRequestCount: Int { pending.count }
    /// Received message IDs remembered for deduplication.
    public var deduplicationCount: Int { seen.count }
    var seenOrderLength: Int { seenOrder.count }

    /// Whether a client request is still open (queued, in flight, awaiting a response or observing).
    public func isPending(_ handle: CoAPRequestHandle) -> Bool { pending[handle] != nil }

    /// The earliest time `timerFired` has work to do.
    public var nextDeadline: Double? {
        let a = outstanding.values.map(\.deadline).min()
        let b = pending.values.compactMap(\.responseDeadline).min()
        switch (a, b) {
        case (let x?, let y?): return min(x, y)
        case (let x?, nil): return x
        case (nil, let y): return y
        }
    }

    // MARK: Client

    /// Sends a request (CON or NON; the message ID is assigned, and a random token when it has
    /// none). With `observe`, the handle stays open for notifications until `cancel`.
    public mutating func sendRequest(
        _ request: CoAPMessage, to peer: Peer, now: Double, observe: Bool = false
    ) -> (CoAPRequestHandle, [Action]) {
        let handle = CoAPRequestHandle(rawValue: nextHandle)
        nextHandle += 1
        guard pending.count < configuration.maxPendingRequests else { return (handle, [.fail(handle, .tooManyPending)]) }
        var message = request
        if message.token.bytes.isEmpty || byToken[PeerToken(peer: peer, token: message.token)] != nil {
            message.token = freshToken(for: peer)
        }
        let isCON = message.type == .confirmable
        if isCON, inFlight[peer, default: 0] >= configuration.nstart {
            guard queues[peer, default: []].count < configuration.maxQueuedPerPeer else { return (handle, [.fail(handle, .queueFull)]) }
            queues[peer, default: []].append((handle, message))
            register(handle, peer: peer, token: message.token, observe: observe, responseDeadline: nil)
            return (handle, [])
        }
        register(
            handle, peer: peer, token: message.token, observe: observe,
            responseDeadline: isCON ? nil : now + configuration.responseTimeout)
        var actions = transmit(message, to: peer, owner: .request(handle), now: now)
        actions += schedule(now: now)
        return (handle, actions)
    }

    /// Forgets a request: no more deliveries, no more retransmissions (e.g. an observation ended).
    public mutating func cancel(_ handle: CoAPRequestHandle, now: Double) -> [Action] {
        guard let p = pending.removeValue(forKey: handle) else { return [] }
        byToken[PeerToken(peer: p.peer, token: p.token)] = nil
        queues[p.peer]?.removeAll { $0.0 == handle }
        var actions: [Action] = []
        if let key = outstanding.first(where: { if case .request(handle) = $0.value.owner { true } else { false } })?.key {
            outstanding[key] = nil
            actions += finishedInFlight(peer: p.peer, now: now)
        }
        return actions
    }

    // MARK: Server

    /// Answers a request that arrived through `.handleRequest`: piggybacked on the ACK of a CON,
    /// as a separate CON after `acknowledge`, as a NON to a NON.
    public mutating func respond(to request: CoAPMessage, from peer: Peer, with response: CoAPResponse, now: Double) -> [Action] {
        let key = PeerMID(peer: peer, messageID: request.messageID)
        let separately = seen[key]?.reply.map { $0.type == .acknowledgement && $0.isEmpty } ?? false
        var message = CoAPMessage(
            type: .acknowledgement, code: response.code, messageID: request.messageID,
            token: request.token, options: response.options, payload: response.payload)
        if request.type == .confirmable && !separately {
            seen[key]?.reply = message
            return [.send(message, to: peer)]
        }
        message.messageID = allocateMessageID()
        if request.type == .nonConfirmable {
            message.type = .nonConfirmable
            seen[key]?.reply = message
            return [.send(message, to: peer)]
        }
        message.type = .confirmable
        return sendConfirmableResponse(message, to: peer, now: now)
    }

    /// Acknowledges a confirmable request with an empty ACK now, so the response can come later
    /// as a separate confirmable message (§5.2.2).
    public mutating func acknowledge(_ request: CoAPMessage, from peer: Peer) -> [Action] {
        guard request.type == .confirmable else { return [] }
        let key = PeerMID(peer: peer, messageID: request.messageID)
        guard seen[key]?.reply == nil else { return [] }
        let ack = CoAPMessage.empty(.acknowledgement, messageID: request.messageID)
        seen[key]?.reply = ack
        return [.send(ack, to: peer)]
    }

    /// Sends a notification (or any unsolicited response) for `token` to `peer`: CON is retransmitted
    /// and reported through `.responseRejected` when reset or never acknowledged.
    public mutating func sendNotification(_ response: CoAPResponse, token: CoAPToken, to peer: Peer, confirmable: Bool, now: Double)
        -> [Action]
    {
        let message = CoAPMessage(
            type: confirmable ? .confirmable : .nonConfirmable, code: response.code,
            messageID: allocateMessageID(), token: token, options: response.options, payload: response.payload)
        guard confirmable else { return [.send(message, to: peer)] }
        return sendConfirmableResponse(message, to: peer, now: now)
    }

    // MARK: Input

    /// A datagram that did not decode: a confirmable one is rejected with Reset (§4.2).
    public func receiveMalformed(type: CoAPMessageType, messageID: UInt16, from peer: Peer) -> [Action] {
        type == .confirmable ? [.send(.empty(.reset, messageID: messageID), to: peer)] : []
    }

    /// Processes one decoded datagram from `peer`.
    public mutating func receive(_ message: CoAPMessage, from peer: Peer, now: Double) -> [Action] {
        expireSeen(now: now)
        switch message.type {
        case .acknowledgement, .reset:
            return receiveReply(message, from: peer, now: now)
        case .confirmable, .nonConfirmable:
            if message.isEmpty {
                // A CON ping is answered with RST; an empty NON is a format error and ignored.
                return message.type == .confirmable ? [.send(.empty(.reset, messageID: message.messageID), to: peer)] : []
            }
            let key = PeerMID(peer: peer, messageID: message.messageID)
            if let entry = seen[key] {
                return entry.reply.map { [.send($0, to: peer)] } ?? []
            }
            let lifetime = message.type == .confirmable ? configuration.exchangeLifetime : configuration.nonLifetime
            remember(key, Seen(expiry: now + lifetime, reply: nil))
            if message.code.isRequest {
                let unknown = message.unrecognisedCriticalOptions(known: configuration.additionalKnownOptions)
                if !unknown.isEmpty {
                    let names = unknown.map { "\($0.rawValue)" }.joined(separator: ", ")
                    return respond(
                        to: message, from: peer,
                        with: CoAPResponse(
                            code: .badOption, diagnostic: "unrecognised critical option \(names)"), now: now)
                }
                return [.handleRequest(message, from: peer)]
            }
            if message.code.isResponse {
                return receiveResponse(message, key: key, from: peer, now: now)
            }
            // Reserved code classes (1, 3, 6, 7): reject a CON, ignore a NON.
            return rejectIfConfirmable(message, key: key, from: peer)
        }
    }

    /// Retransmits what is due, times out what is exhausted, and forgets expired message IDs.
    public mutating func timerFired(now: Double) -> [Action] {
        scheduled = nil
        expireSeen(now: now)
        var actions: [Action] = []
        for (key, out) in outstanding where out.deadline <= now {
            if out.retransmissions < configuration.maxRetransmit {
                var next = out
                next.retransmissions += 1
                next.timeout *= 2
                next.deadline = now + next.timeout
                outstanding[key] = next
                actions.append(.send(out.message, to: out.peer))
                continue
            }
            outstanding[key] = nil
            switch out.owner {
            case .request(let handle):
                if let p = pending.removeValue(forKey: handle) { byToken[PeerToken(peer: p.peer, token: p.token)] = nil }
                actions.append(.fail(handle, .timeout))
                actions += finishedInFlight(peer: out.peer, now: now)
            case .response(let token):
                outstandingResponses -= 1
                actions.append(.responseRejected(token: token, peer: out.peer, reason: .timeout))
            }
        }
        for (handle, p) in pending {
            guard let deadline = p.responseDeadline, deadline <= now else { continue }
            if p.observe && p.delivered {
                pending[handle]?.responseDeadline = nil
                continue
            }
            pending[handle] = nil
            byToken[PeerToken(peer: p.peer, token: p.token)] = nil
            actions.append(.fail(handle, .timeout))
        }
        actions += schedule(now: now)
        return actions
    }

    // MARK: Internals

    private mutating func receiveReply(_ message: CoAPMessage, from peer: Peer, now: Double) -> [Action] {
        let key = PeerMID(peer: peer, messageID: message.messageID)
        guard let out = outstanding[key] else { return [] }  // unknown or duplicate ACK/RST: ignore
        if message.type == .acknowledgement, !message.isEmpty, !message.code.isResponse { return [] }
        // A piggybacked response with an unrecognised critical option is rejected (§5.4.1): ignoring
        // the ACK lets the request be retransmitted.
        if message.type == .acknowledgement, !message.unrecognisedCriticalOptions(known: configuration.additionalKnownOptions).isEmpty {
            return []
        }
        outstanding[key] = nil
        var actions: [Action] = []
        switch out.owner {
        case .response(let token):
            outstandingResponses -= 1
            if message.type == .reset { actions.append(.responseRejected(token: token, peer: peer, reason: .reset)) }
        case .request(let handle):
            if message.type == .reset {
                if let p = pending.removeValue(forKey: handle) { byToken[PeerToken(peer: p.peer, token: p.token)] = nil }
                actions.append(.fail(handle, .reset))
            } else if message.isEmpty {
                pending[handle]?.responseDeadline = now + configuration.responseTimeout
            } else {
                actions += deliver(message, to: handle)
            }
            actions += finishedInFlight(peer: peer, now: now)
        }
        return actions + schedule(now: now)
    }

    private mutating func receiveResponse(_ message: CoAPMessage, key: PeerMID, from peer: Peer, now: Double) -> [Action] {
        guard let handle = byToken[PeerToken(peer: peer, token: message.token)],
            message.unrecognisedCriticalOptions(known: configuration.additionalKnownOptions).isEmpty
        else {
            return rejectIfConfirmable(message, key: key, from: peer)
        }
        var actions: [Action] = []
        if message.type == .confirmable {
            let ack = CoAPMessage.empty(.acknowledgement, messageID: message.messageID)
            seen[key]?.reply = ack
            actions.append(.send(ack, to: peer))
        }
        // A separate response can overtake the lost ACK of its request: the exchange is done.
        if let outKey = outstanding.first(where: { if case .request(handle) = $0.value.owner { true } else { false } })?.key {
            outstanding[outKey] = nil
            actions += deliver(message, to: handle)
            actions += finishedInFlight(peer: peer, now: now)
        } else {
            actions += deliver(message, to: handle)
        }
        return actions + schedule(now: now)
    }

    private mutating func deliver(_ message: CoAPMessage, to handle: CoAPRequestHandle) -> [Action] {
        guard let p = pending[handle] else { return [] }
        if p.observe && message.observe != nil && message.code.isSuccess {
            pending[handle]?.delivered = true
            pending[handle]?.responseDeadline = nil
        } else {
            pending[handle] = nil
            byToken[PeerToken(peer: p.peer, token: p.token)] = nil
        }
        return [.deliver(message, to: handle)]
    }

    private mutating func rejectIfConfirmable(_ message: CoAPMessage, key: PeerMID, from peer: Peer) -> [Action] {
        guard message.type == .confirmable else { return [] }
        let rst = CoAPMessage.empty(.reset, messageID: message.messageID)
        seen[key]?.reply = rst
        return [.send(rst, to: peer)]
    }

    private mutating func sendConfirmableResponse(_ message: CoAPMessage, to peer: Peer, now: Double) -> [Action] {
        guard outstandingResponses < configuration.maxOutstandingResponses else {
            // Out of room to track it: send it unreliable rather than not at all.
            var non = message
            non.type = .nonConfirmable
            return [.send(non, to: peer)]
        }
        outstandingResponses += 1
        return transmit(message, to: peer, owner: .response(message.token), now: now) + schedule(now: now)
    }

    private mutating func register(_ handle: CoAPRequestHandle, peer: Peer, token: CoAPToken, observe: Bool, responseDeadline: Double?) {
        pending[handle] = Pending(peer: peer, token: token, observe: observe, responseDeadline: responseDeadline, delivered: false)
        byToken[PeerToken(peer: peer, token: token)] = handle
    }

    private mutating func transmit(_ message: CoAPMessage, to peer: Peer, owner: Owner, now: Double) -> [Action] {
        var message = message
        if case .request = owner { message.messageID = allocateMessageID() }
        guard message.type == .confirmable else { return [.send(message, to: peer)] }
        let jitter = Double.random(in: 0..<1, using: &random)
        let timeout = configuration.ackTimeout * (1 + jitter * (configuration.ackRandomFactor - 1))
        outstanding[PeerMID(peer: peer, messageID: message.messageID)] = Outgoing(
            message: message, peer: peer, owner: owner, retransmissions: 0, timeout: timeout, deadline: now + timeout)
        if case .request = owner { inFlight[peer, default: 0] += 1 }
        return [.send(message, to: peer)]
    }

    /// A CON request to `peer` is no longer awaiting its ACK: start the next queued one.
    private mutating func finishedInFlight(peer: Peer, now: Double) -> [Action] {
        let n = inFlight[peer, default: 1] - 1
        inFlight[peer] = n > 0 ? n : nil
        var actions: [Action] = []
        while inFlight[peer, default: 0] < configuration.nstart, var queue = queues[peer], !queue.isEmpty {
            let (handle, message) = queue.removeFirst()
            queues[peer] = queue.isEmpty ? nil : queue
            actions += transmit(message, to: peer, owner: .request(handle), now: now)
        }
        return actions
    }

    private mutating func allocateMessageID() -> UInt16 {
        defer { nextMessageID &+= 1 }
        return nextMessageID
    }

    private mutating func freshToken(for peer: Peer) -> CoAPToken {
        while true {
            let v = random.next()
            let token = CoAPToken(unchecked: (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) })
            if byToken[PeerToken(peer: peer, token: token)] == nil { return token }
        }
    }

    private mutating func remember(_ key: PeerMID, _ entry: Seen) {
        if seen.count >= configuration.maxDeduplicationEntries { evictOldestSeen() }
        seen[key] = entry
        seenOrder.append(key)
    }

    private mutating func evictOldestSeen() {
        while seenHead < seenOrder.count {
            let key = seenOrder[seenHead]
            seenHead += 1
            if seen.removeValue(forKey: key) != nil { break }
        }
        compactSeenOrder()
    }

    private mutating func expireSeen(now: Double) {
        while seenHead < seenOrder.count {
            let key = seenOrder[seenHead]
            guard let entry = seen[key] else { seenHead += 1; continue }
            guard entry.expiry <= now else { break }
            seen[key] = nil
            seenHead += 1
        }
        compactSeenOrder()
    }

    private mutating func compactSeenOrder() {
        if seenHead > 1024 && seenHead * 2 > seenOrder.count {
            seenOrder.removeFirst(seenHead)
            seenHead = 0
        }
    }

    private mutating func schedule(now: Double) -> [Action] {
        guard let next = nextDeadline else { return [] }
        if let s = scheduled, s <= next, s > now { return [] }
        scheduled = next
        return [.scheduleTimer(at: next)]
    }
}

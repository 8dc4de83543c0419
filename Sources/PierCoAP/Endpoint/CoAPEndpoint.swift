import NIOCore

/// A CoAP endpoint on a datagram channel: a server for `resources` and a client with async/await,
/// both over one socket, with block-wise transfer handled on both sides.
///
/// The channel is supplied by the caller (a bound `DatagramBootstrap` channel, or a testing
/// channel): this module depends on NIOCore only.
///
/// ```swift
/// let channel = try await DatagramBootstrap(group: group).bind(host: "::", port: 5683).get()
/// let endpoint = try await CoAPEndpoint.attach(to: channel, resources: [
///     CoAPResource(path: "/hello", resourceTypes: ["greeting"]) { _ in CoAPResponse(code: .content, payload: Array("hi".utf8)) }
/// ])
/// let reply = try await endpoint.get("/hello", from: peer)
/// ```
public final class CoAPEndpoint: Sendable {
    /// Protocol parameters and limits for all layers.
    public struct Configuration: Sendable {
        public var messageLayer = CoAPMessageLayer<SocketAddress>.Configuration()
        public var block1 = Block1Reassembler<SocketAddress>.Configuration()
        public var observe = ObserveRegistry<SocketAddress>.Configuration()
        /// Largest block this endpoint sends or serves, as SZX (6 = 1024 bytes).
        public var preferredBlockSZX: UInt8 = 6
        /// A confirmable request whose handler takes longer than this (seconds) is acknowledged
        /// with an empty ACK and answered separately.
        public var separateResponseDelay: Double = 1
        /// Resource handlers that may run at once; further requests are answered 5.03 with Max-Age 1.
        public var maxConcurrentHandlers: Int = 256
        /// Largest response body the client reassembles from Block2 blocks.
        public var maxResponseBodySize: Int = 1 << 20
        /// Seed for message IDs, tokens and jitter; `nil` seeds from the system (tests pin it).
        public var randomSeed: UInt64?
        /// Object security for requests this endpoint serves (OSCORE); nil serves them as they come.
        public var security: (any CoAPServerSecurity)?
        /// Decides each request after `security` opened it and before block-wise reassembly, from
        /// its options alone (method, path, credentials; `client` is who OSCORE authenticated): a
        /// response refuses it there, so nothing of an unauthorized body is ever buffered; nil
        /// lets it through to reassembly and the resource.
        public var admit: (@Sendable (_ request: CoAPMessage, _ peer: SocketAddress, _ client: String?) -> CoAPResponse?)?

        public init() {}
    }

    /// The channel this endpoint reads and writes.
    public let channel: any Channel
    let configuration: Configuration
    private let handler: NIOLoopBound<CoAPEndpointHandler>

    private init(channel: any Channel, configuration: Configuration, handler: NIOLoopBound<CoAPEndpointHandler>) {
        self.channel = channel
        self.configuration = configuration
        self.handler = handler
    }

    /// Adds a CoAP handler to `channel`, whose inbound and outbound data are `AddressedEnvelope<ByteBuffer>`.
    public static func attach(
        to channel: any Channel, resources: [CoAPResource] = [], configuration: Configuration = Configuration()
    ) async throws -> CoAPEndpoint {
        try await channel.eventLoop.submit {
            let handler = CoAPEndpointHandler(configuration: configuration, resources: resources, eventLoop: channel.eventLoop)
            try channel.pipeline.syncOperations.addHandler(handler)
            return CoAPEndpoint(
                channel: channel, configuration: configuration, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
        }.get()
    }

    /// Tells observers of `path` that it changed: each gets a notification rendered by the resource's handler.
    public func notifyChanged(_ path: String) {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.notifyChanged(path) }
    }

    /// Remembered message IDs; call on the event loop (tests use `executeInContext`).
    func deduplicationCountForTesting() -> Int { handler.value.layer.deduplicationCount }

    /// Block1 transfers in progress and the bytes they hold; call on the event loop.
    func blockTransfersForTesting() -> (transfers: Int, bytes: Int) {
        (handler.value.reassembler.activeTransfers, handler.value.reassembler.bufferedBytes)
    }

    // MARK: Client

    /// GET `path` from `peer`; a Block2 response is fetched block by block and returned whole.
    public func get(_ path: String, from peer: SocketAddress, query: [String] = [], options: [CoAPOption] = [], confirmable: Bool = true)
        async throws -> CoAPMessage
    {
        try await request(.get, path, peer: peer, query: query, options: options, confirmable: confirmable)
    }

    /// PUT `payload` to `path`; a body larger than one block goes as Block1.
    public func put(_ path: String, to peer: SocketAddress, payload: [UInt8], options: [CoAPOption] = [], confirmable: Bool = true)
        async throws -> CoAPMessage
    {
        try await request(.put, path, peer: peer, options: options, payload: payload, confirmable: confirmable)
    }

    /// POST `payload` to `path`; a body larger than one block goes as Block1.
    public func post(_ path: String, to peer: SocketAddress, payload: [UInt8], options: [CoAPOption] = [], confirmable: Bool = true)
        async throws -> CoAPMessage
    {
        try await request(.post, path, peer: peer, options: options, payload: payload, confirmable: confirmable)
    }

    /// DELETE `path`.
    public func delete(_ path: String, at peer: SocketAddress, options: [CoAPOption] = [], confirmable: Bool = true) async throws
        -> CoAPMessage
    {
        try await request(.delete, path, peer: peer, options: options, confirmable: confirmable)
    }

    /// Reads `/.well-known/core` from `peer`, filtered by `query` (e.g. `["rt=temperature"]`).
    public func discover(_ peer: SocketAddress, query: [String] = []) async throws -> [CoAPLink] {
        let response = try await get("/.well-known/core", from: peer, query: query)
        return try CoAPLinkFormat.parse(String(decoding: response.payload, as: UTF8.self))
    }

    /// Observes `path` on `peer` (RFC 7641): yields the first response and then every fresh
    /// notification, dropping reordered ones (§3.4). The stream finishes when the server answers
    /// without Observe or with an error, and throws when the peer stops answering. Cancelling the
    /// iteration forgets the observation; the server learns it from the Reset to its next
    /// confirmable notification.
    public func observe(_ path: String, on peer: SocketAddress, query: [String] = [], options: [CoAPOption] = [])
        -> AsyncThrowingStream<CoAPMessage, any Error>
    {
        var message = CoAPMessage(type: .confirmable, code: .get, messageID: 0, options: options)
        message.uriPath = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if !query.isEmpty { message.uriQuery = query }
        message.observe = 0
        return observe(message, on: peer)
    }

    /// Observes with a request built by the caller (it carries `Observe: 0`; the message ID and,
    /// if empty, the token are assigned): an OSCORE client's FETCH. As `observe(_:on:)` otherwise.
    public func observe(_ request: CoAPMessage, on peer: SocketAddress) -> AsyncThrowingStream<CoAPMessage, any Error> {
        let path = request.path
        let handler = self.handler
        let loop = channel.eventLoop
        return AsyncThrowingStream { continuation in
            loop.execute {
                var freshness = ObserveFreshness()
                let handle = handler.value.startRequest(request, to: peer, observe: true) { result in
                    switch result {
                    case .success(let response):
                        guard let sequence = response.observe, response.code.isSuccess else {
                            continuation.yield(response)
                            continuation.finish()
                            return
                        }
                        if freshness.accept(sequence: sequence, now: handler.value.now) { continuation.yield(response) }
                    case .failure(let failure):
                        continuation.finish(throwing: CoAPEndpointError.request(failure, path: path))
                    }
                }
                continuation.onTermination = { _ in loop.execute { handler.value.cancelRequest(handle) } }
            }
        }
    }

    /// Sends a request and returns the final response (its payload the whole body), doing Block1
    /// and Block2 transparently. Error responses (4.xx, 5.xx) are returned, not thrown; lost
    /// messages and resets throw `CoAPEndpointError`.
    public func request(
        _ method: CoAPCode, _ path: String, peer: SocketAddress, query: [String] = [], options: [CoAPOption] = [],
        payload: [UInt8] = [], confirmable: Bool = true
    ) async throws -> CoAPMessage {
        var base = CoAPMessage(type: confirmable ? .confirmable : .nonConfirmable, code: method, messageID: 0, options: options)
        base.uriPath = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if !query.isEmpty { base.uriQuery = query }

        var response = try await upload(base, payload: payload, peer: peer, path: path)
        if let block = try? response.block2(), block.more {
            response = try await download(base, first: response, block: block, peer: peer, path: path)
        }
        return response
    }

    private func upload(_ base: CoAPMessage, payload: [UInt8], peer: SocketAddress, path: String) async throws -> CoAPMessage {
        var szx = configuration.preferredBlockSZX
        guard payload.count > 16 << Int(szx) else {
            var m = base
            m.payload = payload
            return try await exchange(m, peer: peer, path: path)
        }
        var offset = 0
        while true {
            let size = 16 << Int(szx)
            let end = min(offset + size, payload.count)
            var m = base
            m.payload = Array(payload[offset..<end])
            m.setOptions(.block1, [BlockOption(unchecked: UInt32(offset / size), more: end < payload.count, szx: szx).option(.block1)])
            if offset == 0 { m.setUInt(.size1, UInt32(clamping: payload.count)) }
            let r = try await exchange(m, peer: peer, path: path)
            guard end < payload.count else { return r }
            // 2.31 Continue asks for the next block. Servers written to the drafts of RFC 7959
            // (txThings) acknowledge with a success code and Block1 M=1 instead; that means the same.
            let draftContinue = r.code.isSuccess && (try? r.block1())?.more == true
            guard r.code == .continue || draftContinue else { return r }  // the server refused or answered early
            guard let ack = try? r.block1() else {
                throw CoAPEndpointError.blockwise("2.31 Continue without a valid Block1 option", path: path)
            }
            // On the first block the server may ask for a smaller size; continue at the same byte offset.
            if offset == 0, ack.szx < szx { szx = ack.szx }
            offset = end
        }
    }

    private func download(_ base: CoAPMessage, first: CoAPMessage, block: BlockOption, peer: SocketAddress, path: String) async throws
        -> CoAPMessage
    {
        // Block n of a PUT or POST result is asked for with the same request, without a body
        // and with Block2 n (RFC 7959 §2.6, as libcoap does); the server answers it from the
        // result it kept. All follow-ups reuse the first exchange's token, so servers that key
        // a transfer by token (libcoap) or by path and peer (txThings) both recognise it.
        var body = first.payload
        var number = block.number + 1
        while true {
            var m = base
            m.token = first.token
            m.observe = nil
            m.setOptions(.block2, [BlockOption(unchecked: number, more: false, szx: block.szx).option(.block2)])
            let r = try await exchange(m, peer: peer, path: path)
            guard r.code.isSuccess, let b = try? r.block2(), b.number == number, b.szx == block.szx else {
                throw CoAPEndpointError.blockwise(
                    "block \(number) answered with \(r.code) \(r.option(.block2).map(\.description) ?? "and no Block2")", path: path)
            }
            body += r.payload
            guard body.count <= configuration.maxResponseBodySize else {
                throw CoAPEndpointError.blockwise("response body exceeds \(configuration.maxResponseBodySize) bytes", path: path)
            }
            if !b.more { break }
            number += 1
        }
        var whole = first
        whole.payload = body
        whole.setOptions(.block2, [])
        return whole
    }

    /// One request/response exchange through the message layer.
    func exchange(_ message: CoAPMessage, peer: SocketAddress, path: String) async throws -> CoAPMessage {
        let handler = self.handler
        let loop = channel.eventLoop
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CoAPMessage, any Error>) in
            loop.execute {
                _ = handler.value.startRequest(message, to: peer, observe: false) { result in
                    continuation.resume(with: result.mapError { CoAPEndpointError.request($0, path: path) })
                }
            }
        }
    }
}

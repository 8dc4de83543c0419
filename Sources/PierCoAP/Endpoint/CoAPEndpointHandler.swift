import NIOCore

/// The NIO side of a `CoAPEndpoint`: decodes datagrams, drives the pure state machines, performs
/// their actions (writes, timers, handler calls) on the event loop. Not Sendable: every method runs
/// on the channel's event loop.
final class CoAPEndpointHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    struct Exchange: Hashable {
        var peer: SocketAddress
        var messageID: UInt16
    }

    struct ObserverKey: Hashable {
        var peer: SocketAddress
        var token: CoAPToken
    }

    let configuration: CoAPEndpoint.Configuration
    let resources: [String: CoAPResource]
    let eventLoop: any EventLoop
    var layer: CoAPMessageLayer<SocketAddress>
    var reassembler: Block1Reassembler<SocketAddress>
    var observers: ObserveRegistry<SocketAddress>
    let slicer: Block2Slicer
    var context: ChannelHandlerContext?
    var timer: Scheduled<Void>?
    var waiting: [CoAPRequestHandle: (Result<CoAPMessage, CoAPRequestFailure>) -> Void] = [:]
    /// Confirmable requests whose handler is still running, with the timer for the early empty ACK.
    var running: [Exchange: Scheduled<Void>] = [:]
    /// Resource handlers running now (requests and notifications), capped so a flood cannot pile up tasks.
    var activeHandlers = 0
    /// How each protected observation's notifications are sealed, by observer.
    var observerBindings: [ObserverKey: CoAPSecurityBinding] = [:]

    init(configuration: CoAPEndpoint.Configuration, resources: [CoAPResource], eventLoop: any EventLoop) {
        self.configuration = configuration
        self.resources = Dictionary(resources.map { ($0.path, $0) }, uniquingKeysWith: { _, last in last })
        self.eventLoop = eventLoop
        let random = configuration.randomSeed.map(CoAPRandom.init(seed:)) ?? .system()
        var layerConfiguration = configuration.messageLayer
        layerConfiguration.additionalKnownOptions.formUnion(configuration.security?.options ?? [])
        self.layer = CoAPMessageLayer(configuration: layerConfiguration, random: random)
        self.reassembler = Block1Reassembler(configuration: configuration.block1)
        self.observers = ObserveRegistry(configuration: configuration.observe)
        self.slicer = Block2Slicer(preferredSZX: configuration.preferredBlockSZX)
    }

    var now: Double { Double(eventLoop.now.uptimeNanoseconds) / 1e9 }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        failAll()
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll()
        context.fireChannelInactive()
    }

    private func failAll() {
        timer?.cancel()
        timer = nil
        for (_, t) in running { t.cancel() }
        running = [:]
        let callbacks = waiting
        waiting = [:]
        for (_, cb) in callbacks { cb(.failure(.reset)) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let peer = envelope.remoteAddress
        let message: CoAPMessage
        do {
            message = try CoAPMessage(decoding: envelope.data)
        } catch {
            if let header = CoAPMessage.header(of: envelope.data) {
                perform(layer.receiveMalformed(type: header.type, messageID: header.messageID, from: peer))
            }
            return
        }
        perform(layer.receive(message, from: peer, now: now))
    }

    // MARK: Actions

    func perform(_ actions: [CoAPMessageLayer<SocketAddress>.Action]) {
        guard !actions.isEmpty else { return }
        var wrote = false
        for action in actions {
            switch action {
            case .send(let message, let peer):
                wrote = write(message, to: peer) || wrote
            case .handleRequest(let message, let peer):
                serve(message, from: peer)
            case .deliver(let message, let handle):
                // An observation stays pending after each notification; anything else is finished.
                let callback = layer.isPending(handle) ? waiting[handle] : waiting.removeValue(forKey: handle)
                callback?(.success(message))
            case .fail(let handle, let failure):
                waiting.removeValue(forKey: handle)?(.failure(failure))
            case .responseRejected(let token, let peer, _):
                forgetObserver(peer: peer, token: token)
            case .scheduleTimer(let at):
                arm(at)
            }
        }
        if wrote { context?.flush() }
    }

    private func write(_ message: CoAPMessage, to peer: SocketAddress) -> Bool {
        guard let context, let buffer = try? message.encodedBuffer(allocator: context.channel.allocator) else { return false }
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: peer, data: buffer)), promise: nil)
        return true
    }

    private func arm(_ at: Double) {
        timer?.cancel()
        let deadline = NIODeadline.uptimeNanoseconds(UInt64((max(0, at) * 1_000_000_000).rounded(.up)))
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            // Never earlier than asked: a clock read that rounds below `at` would re-arm the same timer forever.
            perform(layer.timerFired(now: max(now, at)))
        }
    }

    // MARK: Server

    /// Serves a request from the message layer. `wire` is the message as it came (its header
    /// answers); `request` the one the resources see: the same, or what OSCORE decrypted.
    private func serve(_ wire: CoAPMessage, from peer: SocketAddress) {
        var request = wire
        var binding: CoAPSecurityBinding?
        if let security = configuration.security {
            switch security.open(wire, from: peer) {
            case .plain: break
            case .opened(let inner, let b):
                request = inner
                binding = b
            case .respond(let response):
                perform(layer.respond(to: wire, from: peer, with: response, now: now))
                return
            }
        }
        // Refusals that need no body come before reassembly: nothing is buffered for a request
        // that will not be served.
        if let refusal = refusalBeforeBody(request, from: peer, client: binding?.client) {
            answer(refusal, wire: wire, from: peer, binding: binding)
            return
        }
        switch reassembler.receive(request, from: peer, now: now) {
        case .respond(let response):
            answer(response, wire: wire, from: peer, binding: binding)
        case .complete(let body, let block1):
            var whole = request
            whole.payload = body
            whole.setOptions(.block1, [])
            run(whole, original: request, wire: wire, from: peer, binding: binding, extraOptions: [block1])
        case .passThrough:
            run(request, original: request, wire: wire, from: peer, binding: binding, extraOptions: [])
        }
    }

    /// The answer for a request that is refused whatever its body: a path without a resource,
    /// a write to discovery, or what `Configuration.admit` refuses.
    private func refusalBeforeBody(_ request: CoAPMessage, from peer: SocketAddress, client: String?) -> CoAPResponse? {
        let path = request.path
        if path == "/.well-known/core" {
            return request.code == .get ? nil : CoAPResponse(code: .methodNotAllowed, diagnostic: "/.well-known/core only answers GET")
        }
        guard resource(for: path) != nil else { return CoAPResponse(code: .notFound, diagnostic: "no resource at \(path)") }
        return configuration.admit?(request, peer, client)
    }

    /// Sends the answer to `wire`, sealed when the request was protected.
    private func answer(_ response: CoAPResponse, wire: CoAPMessage, from peer: SocketAddress, binding: CoAPSecurityBinding?) {
        var out = response
        if let binding, let security = configuration.security {
            guard let sealed = security.seal(response, for: binding, notification: false) else { return }
            out = sealed
        }
        perform(layer.respond(to: wire, from: peer, with: out, now: now))
    }

    private func run(
        _ request: CoAPMessage, original: CoAPMessage, wire: CoAPMessage, from peer: SocketAddress, binding: CoAPSecurityBinding?,
        extraOptions: [CoAPOption]
    ) {
        if request.path == "/.well-known/core" {
            let response: CoAPResponse
            if request.code == .get {
                let links = CoAPLinkFormat.filter(resources.values.map(\.link).sorted { $0.target < $1.target }, query: request.uriQuery)
                response = CoAPResponse(
                    code: .content, options: [CoAPOption(.contentFormat, uint: CoAPContentFormat.linkFormat)],
                    payload: Array(CoAPLinkFormat.serialize(links).utf8))
            } else {
                response = CoAPResponse(code: .methodNotAllowed, diagnostic: "/.well-known/core only answers GET")
            }
            answer(slicer.slice(response, for: original), wire: wire, from: peer, binding: binding)
            return
        }
        guard let resource = resource(for: request.path) else {
            answer(CoAPResponse(code: .notFound, diagnostic: "no resource at \(request.path)"), wire: wire, from: peer, binding: binding)
            return
        }
        guard activeHandlers < configuration.maxConcurrentHandlers else {
            let busy = CoAPResponse(
                code: .serviceUnavailable, diagnostic: "server busy: too many requests in progress; retry later",
                options: [CoAPOption(.maxAge, uint: 1)])
            answer(busy, wire: wire, from: peer, binding: binding)
            return
        }
        activeHandlers += 1
        var sequence: UInt32?
        if resource.observable {
            switch observers.receive(request, from: peer, now: now) {
            case .registered(let s):
                sequence = s
                observerBindings[ObserverKey(peer: peer, token: request.token)] = binding
            case .deregistered:
                observerBindings[ObserverKey(peer: peer, token: request.token)] = nil
            case .none, .refused:
                break
            }
        }

        let exchange = Exchange(peer: peer, messageID: wire.messageID)
        if wire.type == .confirmable {
            let delay = TimeAmount.nanoseconds(Int64(configuration.separateResponseDelay * 1_000_000_000))
            running[exchange] = eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
                guard running.removeValue(forKey: exchange) != nil else { return }
                perform(layer.acknowledge(wire, from: peer))
            }
        }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let loop = eventLoop
        let handler = resource.handler
        let req = CoAPRequest(message: request, peer: peer, client: binding?.client)
        let observeSequence = sequence
        Task {
            let response = await handler(req)
            loop.execute {
                bound.value.finish(
                    response, original: original, wire: wire, from: peer, binding: binding, observeSequence: observeSequence,
                    extraOptions: extraOptions)
            }
        }
    }

    private func finish(
        _ response: CoAPResponse, original: CoAPMessage, wire: CoAPMessage, from peer: SocketAddress, binding: CoAPSecurityBinding?,
        observeSequence: UInt32?, extraOptions: [CoAPOption]
    ) {
        activeHandlers -= 1
        running.removeValue(forKey: Exchange(peer: peer, messageID: wire.messageID))?.cancel()
        var response = response
        response.options.append(contentsOf: extraOptions)
        if let observeSequence {
            if response.code.isSuccess {
                response.options.append(CoAPOption(.observe, uint: observeSequence))
            } else {
                forgetObserver(peer: peer, token: original.token)
            }
        }
        answer(slicer.slice(response, for: original), wire: wire, from: peer, binding: binding)
    }

    private func forgetObserver(peer: SocketAddress, token: CoAPToken) {
        observers.remove(peer: peer, token: token)
        observerBindings[ObserverKey(peer: peer, token: token)] = nil
    }

    /// The resource at `path`, or the nearest ancestor that serves its subpaths.
    func resource(for path: String) -> CoAPResource? {
        if let exact = resources[path] { return exact }
        var parent = Substring(path)
        while let slash = parent.lastIndex(of: "/"), slash != parent.startIndex {
            parent = parent[..<slash]
            if let r = resources[String(parent)], r.servesSubpaths { return r }
        }
        return nil
    }

    func notifyChanged(_ path: String) {
        guard let resource = resource(for: path) else { return }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let loop = eventLoop
        // Past the cap a notification is skipped; the observer gets the next one.
        for n in observers.changed(path, now: now) where activeHandlers < configuration.maxConcurrentHandlers {
            activeHandlers += 1
            let handler = resource.handler
            // Taken now: a notification of a protected observation must never go out unsealed.
            let binding = observerBindings[ObserverKey(peer: n.peer, token: n.token)]
            let req = CoAPRequest(message: n.request, peer: n.peer, client: binding?.client)
            Task {
                let response = await handler(req)
                loop.execute { bound.value.finishNotification(response, n, binding: binding) }
            }
        }
    }

    private func finishNotification(
        _ response: CoAPResponse, _ n: ObserveRegistry<SocketAddress>.Notification, binding: CoAPSecurityBinding?
    ) {
        activeHandlers -= 1
        var response = response
        if response.code.isSuccess {
            response.options.append(CoAPOption(.observe, uint: n.sequence))
        } else {
            forgetObserver(peer: n.peer, token: n.token)  // an error response ends the observation (RFC 7641 §4.2)
        }
        response = slicer.slice(response, requested: nil)
        if let binding, let security = configuration.security {
            guard let sealed = security.seal(response, for: binding, notification: true) else {
                forgetObserver(peer: n.peer, token: n.token)
                return
            }
            response = sealed
        }
        perform(layer.sendNotification(response, token: n.token, to: n.peer, confirmable: n.confirmable, now: now))
    }

    // MARK: Client

    func startRequest(
        _ message: CoAPMessage, to peer: SocketAddress, observe: Bool,
        callback: @escaping (Result<CoAPMessage, CoAPRequestFailure>) -> Void
    ) -> CoAPRequestHandle {
        let (handle, actions) = layer.sendRequest(message, to: peer, now: now, observe: observe)
        waiting[handle] = callback
        perform(actions)
        return handle
    }

    func cancelRequest(_ handle: CoAPRequestHandle) {
        waiting[handle] = nil
        perform(layer.cancel(handle, now: now))
    }
}

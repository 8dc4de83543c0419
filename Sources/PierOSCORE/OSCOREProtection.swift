import PierCoAP

/// What ties a response to the request it answers (RFC 8613 §5.4, §7.1): the request's kid and
/// Partial IV go into every response's AAD, and a response without its own Partial IV reuses
/// the request's nonce.
public struct OSCORERequestBinding: Sendable, Hashable {
    /// The client's sender ID, as the request's kid.
    public var kid: [UInt8]
    public var partialIV: [UInt8]
    public var kidContext: [UInt8]?

    public init(kid: [UInt8], partialIV: [UInt8], kidContext: [UInt8]? = nil) {
        self.kid = kid
        self.partialIV = partialIV
        self.kidContext = kidContext
    }
}

/// Protecting and unprotecting messages (RFC 8613 §5, §8) as pure functions of a security
/// context: no state, no I/O. Sequence numbers and replay windows are the caller's.
///
/// Options are split by class (§4.1): Uri-Host, Uri-Port, Proxy-Uri and Proxy-Scheme stay outside
/// (class U); Observe is inside and outside; everything else, including Block1/Block2 (inner
/// block-wise), Echo and unknown options, is encrypted (class E). The plaintext is the inner
/// code, the inner options and, if there is one, 0xFF and the payload. The outer message is a
/// POST (FETCH with Observe) or a 2.04 (2.05 with Observe) carrying the OSCORE option and the
/// ciphertext.
public enum OSCOREProtection {
    /// Options that are never encrypted (class U only).
    static let outerOnly: Set<CoAPOptionNumber> = [.uriHost, .uriPort, .proxyUri, .proxyScheme, .oscore]

    // MARK: Requests

    /// Protects a request with sequence number `sequence` (the caller counts and persists it).
    public static func protectRequest(
        _ request: CoAPMessage, context: OSCORESecurityContext, sequence: UInt64, sendKIDContext: Bool = false
    ) throws(OSCOREError) -> (CoAPMessage, OSCORERequestBinding) {
        guard sequence <= OSCORESecurityContext.maxSequence else { throw .sequenceUnavailable("sequence number \(sequence) exceeds 2^40 - 1") }
        let piv = OSCOREOptionValue.partialIV(sequence)
        let binding = OSCORERequestBinding(kid: context.senderID, partialIV: piv, kidContext: sendKIDContext ? context.idContext : nil)
        let value = OSCOREOptionValue(partialIV: piv, kidContext: binding.kidContext, kid: context.senderID)
        let nonce = context.nonce(partialIV: piv, idPIV: context.senderID)
        var outer = try seal(
            request, key: context.senderKey, nonce: nonce, aad: OSCORESecurityContext.aad(requestKID: context.senderID, requestPIV: piv),
            option: value)
        outer.code = request.observe == nil ? .post : .fetch
        return (outer, binding)
    }

    /// Opens a protected request (§8.2 steps 2, 5–7) once the caller has found the context for
    /// its kid and checked its sequence number: the inner request, with the outer header, token
    /// and class U options.
    public static func unprotectRequest(_ message: CoAPMessage, value: OSCOREOptionValue, context: OSCORESecurityContext)
        throws(OSCOREError) -> (CoAPMessage, OSCORERequestBinding)
    {
        guard let piv = value.partialIV else { throw .missingField("a request's OSCORE option carries no Partial IV") }
        guard let kid = value.kid else { throw .missingField("a request's OSCORE option carries no kid") }
        let binding = OSCORERequestBinding(kid: kid, partialIV: piv, kidContext: value.kidContext)
        let nonce = context.nonce(partialIV: piv, idPIV: kid)
        var inner = try open(message, key: context.recipientKey, nonce: nonce, aad: OSCORESecurityContext.aad(requestKID: kid, requestPIV: piv))
        guard inner.code.isRequest else { throw .malformedPlaintext("the inner code \(inner.code) is not a request method") }
        // An inner Observe counts only if the outer one says the same (§4.1.3.5.1).
        if message.observe == nil { inner.setOptions(.observe, []) }
        return (inner, binding)
    }

    // MARK: Responses

    /// Protects a response to the request `binding` describes: with the request's nonce, or, with
    /// `ownSequence`, with the server's own Partial IV (notifications, and answers that must not
    /// reuse a nonce, §7.1).
    public static func protectResponse(
        _ response: CoAPResponse, context: OSCORESecurityContext, binding: OSCORERequestBinding, ownSequence: UInt64?
    ) throws(OSCOREError) -> CoAPResponse {
        var value = OSCOREOptionValue()
        let nonce: [UInt8]
        if let ownSequence {
            guard ownSequence <= OSCORESecurityContext.maxSequence else {
                throw .sequenceUnavailable("sequence number \(ownSequence) exceeds 2^40 - 1")
            }
            let piv = OSCOREOptionValue.partialIV(ownSequence)
            value.partialIV = piv
            nonce = context.nonce(partialIV: piv, idPIV: context.senderID)
        } else {
            nonce = context.nonce(partialIV: binding.partialIV, idPIV: binding.kid)
        }
        let observe = response.uint(.observe)
        var plain = CoAPMessage(type: .acknowledgement, code: response.code, messageID: 0, options: response.options, payload: response.payload)
        // The inner Observe of a notification is empty; the outer one carries the number (§4.1.3.5.2).
        if observe != nil { plain.setOptions(.observe, [CoAPOption(.observe)]) }
        let outer = try seal(
            plain, key: context.senderKey, nonce: nonce,
            aad: OSCORESecurityContext.aad(requestKID: binding.kid, requestPIV: binding.partialIV), option: value)
        var options = outer.options.filter { $0.number != .observe }
        if let observe { options.append(CoAPOption(.observe, uint: observe)) }
        return CoAPResponse(code: observe == nil ? .changed : .content, options: options, payload: outer.payload)
    }

    /// Opens a protected response to the request `binding` describes; returns it with the
    /// server's Partial IV as a number when it had one (a notification's order, §7.4.1).
    public static func unprotectResponse(_ message: CoAPMessage, context: OSCORESecurityContext, binding: OSCORERequestBinding)
        throws(OSCOREError) -> (CoAPMessage, UInt64?)
    {
        guard let option = message.option(.oscore) else { throw .missingField("the response carries no OSCORE option") }
        let value = try OSCOREOptionValue(decoding: option.value)
        let nonce = value.partialIV.map { context.nonce(partialIV: $0, idPIV: context.recipientID) }
            ?? context.nonce(partialIV: binding.partialIV, idPIV: binding.kid)
        var inner = try open(
            message, key: context.recipientKey, nonce: nonce, aad: OSCORESecurityContext.aad(requestKID: binding.kid, requestPIV: binding.partialIV))
        guard inner.code.isResponse else { throw .malformedPlaintext("the inner code \(inner.code) is not a response") }
        if let outer = message.observe { inner.observe = outer } else { inner.setOptions(.observe, []) }
        return (inner, value.sequence)
    }

    // MARK: Sealing

    /// The outer message for `message` (header, token and class U options kept; code set by the caller).
    static func seal(_ message: CoAPMessage, key: [UInt8], nonce: [UInt8], aad: [UInt8], option: OSCOREOptionValue) throws(OSCOREError)
        -> CoAPMessage
    {
        var inner = CoAPMessage(type: .confirmable, code: message.code, messageID: 0)
        var outer = message
        outer.options = []
        for o in message.options {
            if outerOnly.contains(o.number) {
                if o.number != .oscore { outer.options.append(o) }
            } else {
                inner.options.append(o)
                if o.number == .observe { outer.options.append(o) }
            }
        }
        inner.payload = message.payload
        let wire: [UInt8]
        do { wire = try inner.encoded() } catch { throw .malformedPlaintext("\(error)") }
        let plaintext = [message.code.rawValue] + wire.dropFirst(4)
        let sealed: [UInt8]
        do { sealed = try AESCCM16_64_128.seal(plaintext, key: key, nonce: nonce, aad: aad) } catch {
            throw .sequenceUnavailable("\(error)")
        }
        outer.options.append(CoAPOption(.oscore, value: option.encoded()))
        outer.payload = sealed
        return outer
    }

    /// The inner message of `message`: its header and token, its class U options, and the
    /// decrypted code, options and payload.
    static func open(_ message: CoAPMessage, key: [UInt8], nonce: [UInt8], aad: [UInt8]) throws(OSCOREError) -> CoAPMessage {
        guard let plaintext = AESCCM16_64_128.open(message.payload, key: key, nonce: nonce, aad: aad) else { throw .decryptionFailed }
        guard let code = plaintext.first, code != 0 else { throw .malformedPlaintext("no inner code") }
        let decoded: CoAPMessage
        do { decoded = try CoAPMessage(decoding: [0x40, code, 0, 0] + plaintext.dropFirst()) } catch {
            throw .malformedPlaintext("\(error)")
        }
        var inner = message
        inner.code = CoAPCode(rawValue: code)
        inner.options = message.options.filter { outerOnly.contains($0.number) && $0.number != .oscore }
        for o in decoded.options where !outerOnly.contains(o.number) { inner.options.append(o) }
        inner.payload = decoded.payload
        return inner
    }
}

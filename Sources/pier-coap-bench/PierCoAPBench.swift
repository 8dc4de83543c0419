import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import PierCoAP
import PierOSCORE

/// `pier-coap-bench`: the CoAP client behind `bench/coap.py` and `bench/oscore.py`. One client for
/// every server measured (Pier, libcoap, aiocoap, txThings), so the servers are compared, not the clients.
/// Prints one JSON object on stdout.
@main
struct PierCoAPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pier-coap-bench",
        abstract: "CoAP load and latency client for bench/coap.py and bench/oscore.py.",
        subcommands: [Request.self, Load.self, Activate.self])
}

/// `coap://HOST:PORT/PATH` → address and path.
struct CoAPURL: ExpressibleByArgument {
    var host: String
    var port: Int
    var path: String

    init?(argument: String) {
        guard argument.hasPrefix("coap://") else { return nil }
        let rest = argument.dropFirst("coap://".count)
        let authority = rest.prefix { $0 != "/" }
        path = String(rest.dropFirst(authority.count))
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]) else { return nil }
        host = String(authority[..<colon])
        self.port = port
    }

    func address() throws -> SocketAddress { try SocketAddress.makeAddressResolvingHost(host, port: port) }
}

func makeEndpoint(_ configure: (inout CoAPEndpoint.Configuration) -> Void = { _ in }) async throws -> CoAPEndpoint {
    let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "0.0.0.0", port: 0).get()
    var configuration = CoAPEndpoint.Configuration()
    configure(&configuration)
    return try await CoAPEndpoint.attach(to: channel, configuration: configuration)
}

func authOptions(_ token: String?) -> [CoAPOption] { token.map { [CoAPOption(CoAPOptionNumber(65001), string: $0)] } ?? [] }

/// An OSCORE client from an aiocoap context directory (`settings.json` with `sender-id_hex`,
/// `recipient-id_hex`, `secret_hex`, `salt_hex`; what `pier coap client create --out` writes). Its
/// sequence numbers continue in `pier-coap-bench.sequence` there, reserved a million at a time
/// before any is used, so runs never reuse one (the directory must not also serve aiocoap).
/// `limit` is the end of this run's reservation: no request may be protected with it or above.
func oscoreClient(_ directory: String) throws -> (client: OSCOREClient, limit: UInt64) {
    let settings = URL(fileURLWithPath: directory).appendingPathComponent("settings.json")
    guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: settings)) as? [String: Any] else {
        throw ValidationError("\(settings.path): not a JSON object")
    }
    func bytes(_ key: String) throws -> [UInt8] {
        guard let hex = object[key] as? String else { return [] }
        let h = Array(hex.utf8)
        guard h.count % 2 == 0 else { throw ValidationError("\(settings.path): \(key) is not hex") }
        return try stride(from: 0, to: h.count, by: 2).map { i in
            guard let b = UInt8(String(decoding: h[i...i + 1], as: UTF8.self), radix: 16) else { throw ValidationError("\(settings.path): \(key) is not hex") }
            return b
        }
    }
    let context = try OSCORESecurityContext(
        masterSecret: try bytes("secret_hex"), masterSalt: try bytes("salt_hex"), senderID: try bytes("sender-id_hex"),
        recipientID: try bytes("recipient-id_hex"), idContext: object["id-context_hex"] == nil ? nil : try bytes("id-context_hex"))
    let sequenceFile = URL(fileURLWithPath: directory).appendingPathComponent("pier-coap-bench.sequence")
    let first = UInt64((try? String(contentsOf: sequenceFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "0") ?? 0
    let limit = first + 1_000_000
    guard limit <= OSCORESecurityContext.maxSequence else {
        throw ValidationError("\(sequenceFile.path): the context's sequence numbers are used up; make a new client")
    }
    try "\(limit)\n".write(to: sequenceFile, atomically: true, encoding: .utf8)
    return (OSCOREClient(context: context, firstSequence: first), limit)
}

/// One request for `path` to `peer` with the run's protection: OSCORE if `oscore` is set, else the token if any.
func send(
    _ code: CoAPCode, _ path: String, on endpoint: CoAPEndpoint, peer: SocketAddress, payload: [UInt8] = [],
    confirmable: Bool = true, token: String?, oscore: (client: OSCOREClient, limit: UInt64)?
) async throws -> CoAPMessage {
    guard let oscore else {
        return try await endpoint.request(code, path, peer: peer, options: authOptions(token), payload: payload, confirmable: confirmable)
    }
    // An Echo challenge costs a second number, hence the 2.
    guard oscore.client.nextSequence + 2 <= oscore.limit else {
        throw ValidationError("this run's reserved OSCORE sequence numbers are used up; run again for a new reservation")
    }
    return try await oscore.client.request(code, path, on: endpoint, peer: peer, payload: payload, confirmable: confirmable)
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func emit(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

/// Response times of one request, repeated, to one or more servers in turn.
struct Request: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one request N times; print each response time (ms) and the last response.",
        discussion: "With several URLs the request goes to each in turn in every round, so drift of the machine hits all alike; the output then has one entry per URL under \"servers\".")

    @Option(name: .shortAndLong, help: "get, put, post or delete.") var method = "get"
    @Option(help: "Request body.") var payload: String?
    @Option(help: "Request body from a file.") var payloadFile: String?
    @Option(name: .customLong("repeat"), help: "Timed requests per URL.") var runs = 10
    @Option(help: "Untimed requests per URL first.") var warmup = 2
    @Option(help: "Client token (option 65001).") var token: String?
    @Option(help: ArgumentHelp("Protect the requests with OSCORE, with the context in this aiocoap context directory.", valueName: "dir"))
    var oscore: String?
    @Argument var urls: [CoAPURL]

    func run() async throws {
        guard !urls.isEmpty else { throw ValidationError("give at least one coap:// URL") }
        let body: [UInt8]
        if let payloadFile { body = Array(try Data(contentsOf: URL(fileURLWithPath: payloadFile))) } else { body = Array((payload ?? "").utf8) }
        let code: CoAPCode
        switch method.lowercased() {
        case "get": code = .get
        case "put": code = .put
        case "post": code = .post
        case "delete": code = .delete
        default: throw ValidationError("--method \(method): get, put, post or delete")
        }
        let endpoint = try await makeEndpoint { $0.messageLayer.additionalKnownOptions.insert(.oscore) }
        let client = try oscore.map(oscoreClient)
        let peers = try urls.map { try $0.address() }
        var times = Array(repeating: [Double](), count: urls.count)
        var last = Array(repeating: CoAPMessage?.none, count: urls.count)
        for i in 0..<(warmup + runs) {
            for (u, url) in urls.enumerated() {
                let start = now()
                let response = try await send(code, url.path, on: endpoint, peer: peers[u], payload: body, token: token, oscore: client)
                let elapsed = (now() - start) * 1000
                guard response.code.isSuccess else {
                    throw ValidationError("\(url.path) answered \(response.code): \(String(decoding: response.payload, as: UTF8.self))")
                }
                if i >= warmup { times[u].append(elapsed) }
                last[u] = response
            }
        }
        func entry(_ u: Int) -> [String: Any] {
            ["times_ms": times[u], "median_ms": percentile(times[u], 0.5), "code": "\(last[u]?.code ?? .empty)",
             "response": String(decoding: last[u]?.payload ?? [], as: UTF8.self)]
        }
        if urls.count == 1 { try emit(entry(0)) } else { try emit(["servers": urls.indices.map(entry)]) }
    }
}

/// Requests per second from many clients, each with its own socket and one request in flight.
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "GET a resource from many clients for a while; print requests/s and latency.")

    @Option(help: "Concurrent clients, each on its own UDP socket.") var clients = 16
    @Option(help: "Seconds to run.") var duration = 5.0
    @Option(help: "Confirmable (con) or non-confirmable (non) requests.") var type = "con"
    @Option(help: "Client token (option 65001).") var token: String?
    @Option(help: ArgumentHelp(
        "Protect the requests with OSCORE: an aiocoap context directory per client (give it --clients times), as every device has its own.",
        valueName: "dir"))
    var oscore: [String] = []
    @Argument var url: CoAPURL

    func validate() throws {
        guard !oscore.isEmpty else { return }
        // A context shared by concurrent sockets gets its sequence numbers reordered on the way, past
        // the server's replay window when a thread stalls, and those requests are refused as replays.
        guard oscore.count == clients else { throw ValidationError("give --oscore once per client (\(clients) times), one context each") }
        guard type != "non" else { throw ValidationError("--oscore measures confirmable requests; drop --type non") }
    }

    func run() async throws {
        let peer = try url.address()
        let confirmable = type != "non"
        let protections = try oscore.map(oscoreClient)
        let token = token
        let endpoints = try await withThrowingTaskGroup(of: CoAPEndpoint.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    try await makeEndpoint {
                        $0.messageLayer.responseTimeout = 5
                        $0.messageLayer.additionalKnownOptions.insert(.oscore)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let end = now() + duration
        let path = url.path
        // An Echo challenge costs a second number, hence the 2 (as in `send`).
        let exhausted = { @Sendable (p: (client: OSCOREClient, limit: UInt64)?) in p.map { $0.client.nextSequence + 2 > $0.limit } ?? false }
        let results = await withTaskGroup(of: (Int, [String: Int], [Double]).self) { group in
            for (i, endpoint) in endpoints.enumerated() {
                let protection = protections.isEmpty ? nil : protections[i]
                group.addTask {
                    var ok = 0
                    var failed: [String: Int] = [:]
                    var times: [Double] = []
                    while now() < end, !exhausted(protection) {
                        let start = now()
                        do {
                            let r = try await send(.get, path, on: endpoint, peer: peer, confirmable: confirmable, token: token, oscore: protection)
                            if r.code.isSuccess {
                                ok += 1
                                times.append((now() - start) * 1000)
                            } else {
                                failed["\(r.code) \(String(decoding: r.payload.prefix(80), as: UTF8.self))", default: 0] += 1
                            }
                        } catch { failed["\(error)", default: 0] += 1 }
                    }
                    return (ok, failed, times)
                }
            }
            return await group.reduce(into: [(Int, [String: Int], [Double])]()) { $0.append($1) }
        }
        guard !protections.contains(where: exhausted) else {
            throw ValidationError("the run's reserved OSCORE sequence numbers ran out before \(duration) s; use a shorter --duration")
        }
        let ok = results.map(\.0).reduce(0, +)
        let failures = results.map(\.1).reduce(into: [String: Int]()) { $0.merge($1, uniquingKeysWith: +) }
        let times = results.flatMap(\.2)
        try emit([
            "requests": ok, "errors": failures.values.reduce(0, +), "error_kinds": failures, "rps": Double(ok) / duration,
            "clients": clients,
            "p50_ms": percentile(times, 0.5), "p99_ms": percentile(times, 0.99),
        ])
        for e in endpoints { try? await e.channel.close() }
    }
}

/// Request → service answering: activates a service (a CoAP PUT to an agent or manager, or a
/// command such as `pier run -d`), then probes the service until it answers.
struct Activate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time from an activation request to the activated CoAP service answering.",
        discussion: "Either --put URL --body JSON (the CoAP interface), or a command after --. The probe is a NON GET sent every --interval-ms until one is answered.")

    @Option(help: "The activation PUT, e.g. coap://127.0.0.1:5685/services/compute.") var put: CoAPURL?
    @Option(help: "Activation body (JSON).") var body: String?
    @Option(help: "Client token (option 65001).") var token: String?
    @Option(help: "The service resource to probe, e.g. coap://127.0.0.1:5690/average.") var probe: CoAPURL
    @Option(help: "Milliseconds between probes.") var intervalMs = 2.0
    @Option(help: "Give up after this many seconds.") var timeout = 60.0
    @Argument(parsing: .captureForPassthrough) var command: [String] = []

    func validate() throws {
        if (put == nil) == command.isEmpty { throw ValidationError("give either --put (and --body) or a command after --") }
    }

    func run() async throws {
        let control = try await makeEndpoint()
        let prober = try await makeEndpoint { $0.messageLayer.responseTimeout = intervalMs / 1000 }
        let target = try probe.address()
        let start = now()
        var requestDone = 0.0
        if let put {
            let r = try await control.put(put.path, to: try put.address(), payload: Array((body ?? "").utf8), options: authOptions(token))
            guard r.code.isSuccess else { throw ValidationError("activation answered \(r.code): \(String(decoding: r.payload, as: UTF8.self))") }
        } else {
            let args = command.first == "--" ? Array(command.dropFirst()) : command
            let p = Process()
            p.executableURL = URL(fileURLWithPath: args[0])
            p.arguments = Array(args.dropFirst())
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw ValidationError("\(args.joined(separator: " ")) exited \(p.terminationStatus)") }
        }
        requestDone = now()
        var probes = 0
        while now() - start < timeout {
            probes += 1
            if let r = try? await prober.get(probe.path, from: target, confirmable: false), r.code.isSuccess {
                let answered = now()
                try emit(["request_ms": (requestDone - start) * 1000, "answering_ms": (answered - start) * 1000, "probes": probes])
                return
            }
        }
        throw ValidationError("\(probe.path) did not answer within \(timeout) s")
    }
}

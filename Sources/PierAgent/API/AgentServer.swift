import PierCluster
import PierSpec
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PierAccess
import PierAPI
import PierOCI

/// The agent's HTTP API (docs/agent-api.md) on Hummingbird. Who may call each route is
/// `AccessPolicy.agentAPI`, decided by the router's middleware before a handler runs; what a
/// caller's containers may ask of the host, `PrivilegeReview`, here at create.
struct AgentServer<Context: RequestContext & CallerCarrying>: Sendable {
    let manager: ContainerManager
    let images: any ImageProvider
    let configuration: AgentConfiguration
    let info: @Sendable () async -> AgentInfo

    static var streamType: String { agentStreamType }

    func router() -> Router<Context> {
        let router = Router(context: Context.self)
        addRoutes(to: router)
        return router
    }

    /// Adds the agent's routes (`/v1/info`, containers, images) to a router of another server.
    func addRoutes(to router: Router<Context>) {
        let v1 = router.group("v1")
        v1.get("info") { _, _ in await json(info()) }
        addContainerRoutes(v1)
        addImageRoutes(v1)
    }

    // MARK: Containers

    private func addContainerRoutes(_ v1: RouterGroup<Context>) {
        let manager = self.manager
        let maxBody = configuration.maxRequestBody
        v1.get("containers") { req, _ in
            await respond { try await manager.list(all: req.uri.queryParameters["all"].map(flag) ?? false) }
        }
        v1.post("containers") { req, ctx in
            do {
                let start = req.uri.queryParameters["start"].map(flag) ?? false
                if start { manager.anticipateStart() }
                let create = try await decode(ContainerSpec.self, req, limit: maxBody)
                if let denied = PrivilegeReview.review(create.requestedPrivileges, caller: ctx.caller) {
                    throw AgentError.forbidden(denied.reason)
                }
                let attach = req.uri.queryParameters["attach"].map(flag) ?? false
                trace("request: decoded")
                if start && attach { return try await runAttached(try await manager.create(create)) }
                let record = try await start ? manager.run(create) : manager.create(create)
                trace("request: created")
                return try encode(ContainerCreated(id: record.id, name: record.name), status: .created)
            } catch { return errorResponse(error) }
        }
        v1.get("containers/{ref}") { _, ctx in
            await respond { try await manager.inspect(try ctx.parameters.require("ref")) }
        }
        v1.post("containers/{ref}/start") { _, ctx in
            await respondEmpty { try await manager.start(try ctx.parameters.require("ref")) }
        }
        v1.post("containers/{ref}/stop") { req, ctx in
            await respondEmpty {
                try await manager.stop(try ctx.parameters.require("ref"), timeout: try intParameter(req, "t"))
            }
        }
        v1.post("containers/{ref}/restart") { req, ctx in
            await respondEmpty {
                try await manager.restart(try ctx.parameters.require("ref"), timeout: try intParameter(req, "t"))
            }
        }
        v1.post("containers/{ref}/kill") { req, ctx in
            await respondEmpty {
                try await manager.kill(try ctx.parameters.require("ref"), signal: req.uri.queryParameters["signal"].map(String.init) ?? "SIGKILL")
            }
        }
        v1.delete("containers/{ref}") { req, ctx in
            await respondEmpty {
                try await manager.remove(try ctx.parameters.require("ref"), force: req.uri.queryParameters["force"].map(flag) ?? false)
            }
        }
        v1.get("containers/{ref}/wait") { _, ctx in
            await respond { try await manager.wait(try ctx.parameters.require("ref")) }
        }
        v1.get("containers/{ref}/logs") { req, ctx in
            do {
                let r = try await manager.record(try ctx.parameters.require("ref"))
                return try await logs(r, follow: req.uri.queryParameters["follow"].map(flag) ?? false,
                                      tail: try intParameter(req, "tail"),
                                      timestamps: req.uri.queryParameters["timestamps"].map(flag) ?? false)
            } catch { return errorResponse(error) }
        }
        v1.post("containers/{ref}/exec") { req, ctx in
            do {
                let exec = try await decode(ExecRequest.self, req, limit: maxBody)
                let ref = try ctx.parameters.require("ref")
                _ = try await manager.record(ref)
                return streamResponse { emit in
                    do {
                        let code = try await manager.exec(ref, request: exec) { out in
                            switch out {
                            case .stdout(let b): emit(StreamFrame(kind: .stdout, payload: b))
                            case .stderr(let b): emit(StreamFrame(kind: .stderr, payload: b))
                            }
                        }
                        emit(exitFrame(ContainerExit(exitCode: code)))
                    } catch {
                        emit(StreamFrame(kind: .error, payload: Array("\(error)".utf8)))
                    }
                }
            } catch { return errorResponse(error) }
        }
        v1.get("containers/{ref}/stats") { _, ctx in
            await respond { try await manager.stats(try ctx.parameters.require("ref")) }
        }
        v1.get("stats") { _, _ in await respond { try await manager.allStats() } }
    }

    /// Starts a created container and streams its output until it exits; the last frame
    /// carries the exit code. With `--rm` the container is gone when that frame is sent.
    private func runAttached(_ record: ContainerRecord) async throws -> Response {
        let manager = self.manager
        let logPath = await manager.logPath(record.id)
        try FileManager.default.createDirectory(at: logPath.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: logPath.path) { _ = FileManager.default.createFile(atPath: logPath.path, contents: nil) }
        let follower = try LogFollower(path: logPath, fromEnd: false, timestamps: false)
        let seen = await manager.exitCount(record.id)
        let restarts = ((try? ContainerRestartPolicy(parsing: record.config.restart)) ?? .no) != .no
        try await manager.startNew(record.id, foreground: !restarts)
        return streamResponse(headers: [containerIDHeader: record.id]) { emit in
            let events = AsyncStream<ContainerExit?> { continuation in
                let exitWatch = Task {
                    continuation.yield(await manager.waitForExit(record.id, after: seen))
                    continuation.finish()
                }
                let ticker = Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(25))
                        continuation.yield(nil)
                    }
                }
                continuation.onTermination = { _ in exitWatch.cancel(); ticker.cancel() }
            }
            for await event in events {
                follower.poll().forEach(emit)
                if let exit = event {
                    trace("stream: exit")
                    emit(exitFrame(exit))
                    break
                }
            }
        }
    }

    private func logs(_ r: ContainerRecord, follow: Bool, tail: Int?, timestamps: Bool) async throws -> Response {
        let manager = self.manager
        let path = await manager.logPath(r.id)
        let log = ContainerLog(path: path)
        if !follow {
            let frames = log.read(tail: tail, timestamps: timestamps)
            return streamResponse { emit in frames.forEach(emit) }
        }
        let follower = try LogFollower(path: path, fromEnd: true, timestamps: timestamps)
        let backlog = log.read(tail: tail, timestamps: timestamps)
        let id = r.id
        return streamResponse { emit in
            backlog.forEach(emit)
            while true {
                follower.poll().forEach(emit)
                guard let current = try? await manager.record(id), current.state == .running || current.state == .restarting else {
                    follower.poll().forEach(emit)
                    return
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    // MARK: Images

    func addImageRoutes(_ v1: RouterGroup<Context>) {
        let images = self.images
        let manager = self.manager
        let tmp = configuration.dataRoot.appendingPathComponent("tmp")
        let importLimit = configuration.maxLayerBytes
        v1.get("images") { _, _ in await respond { try await images.list() } }
        v1.post("images/import") { req, _ in
            do {
                let file = try await receiveFile(req.body, into: tmp, limit: importLimit)
                defer { try? FileManager.default.removeItem(at: file) }
                let tag = req.uri.queryParameters["tag"].map(String.init)
                return try encode(try await images.importArchive(at: file, tag: tag), status: .ok)
            } catch { return errorResponse(error) }
        }
        v1.post("images/pull") { req, _ in
            do {
                let request = try await decode(RegistryTransferRequest.self, req, limit: 64 << 10)
                guard req.uri.queryParameters["progress"].map(flag) ?? false else {
                    return try encode(try await images.pull(request, progress: nil), status: .ok)
                }
                // Progress lines as stderr frames while the pull runs, then the result as a stdout frame.
                return streamResponse { emit in
                    do {
                        let result = try await images.pull(request) { line in emit(StreamFrame(kind: .stderr, payload: Array(line.utf8))) }
                        emit(StreamFrame(kind: .stdout, payload: Array((try? encoder.encode(result)) ?? Data())))
                    } catch {
                        emit(StreamFrame(kind: .error, payload: Array("\(error)".utf8)))
                    }
                }
            } catch { return errorResponse(error) }
        }
        v1.post("images/push") { req, _ in
            await respond { try await images.push(try await decode(RegistryTransferRequest.self, req, limit: 64 << 10)) }
        }
        v1.post("images/du") { req, _ in
            await respond { try await images.downloadAnalysis(try await decode(DownloadAnalysisRequest.self, req, limit: 64 << 10)) }
        }
        v1.get("images/{ref}/signatures") { _, ctx in
            await respond { try await images.signatures(try imageRef(ctx)) }
        }
        v1.post("images/{ref}/signatures") { req, ctx in
            do {
                let signature = try await decode(SignatureBlob.self, req, limit: 64 << 10)
                return try encode(SignatureStored(digest: try await images.addSignature(signature, to: try imageRef(ctx))), status: .created)
            } catch { return errorResponse(error) }
        }
        v1.post("images/prune") { _, _ in
            await respond { try await images.prune(pinned: try await manager.imagesInUse()) }
        }
        v1.get("system/df") { _, _ in await respond { try await images.diskUsage() } }
        v1.get("images/{ref}") { _, ctx in
            await respond { try await images.details(try imageRef(ctx)) }
        }
        v1.get("images/{ref}/manifest") { _, ctx in
            do { return raw(try await images.manifestBytes(try imageRef(ctx))) } catch { return errorResponse(error) }
        }
        v1.get("images/{ref}/config") { _, ctx in
            do { return raw(try await images.configBytes(try imageRef(ctx))) } catch { return errorResponse(error) }
        }
        v1.get("images/{ref}/export") { _, ctx in
            do {
                try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
                let file = tmp.appendingPathComponent("export-\(UUID().uuidString).tar")
                try await images.export(try imageRef(ctx), to: file)
                return fileResponse(file, removeAfter: true)
            } catch { return errorResponse(error) }
        }
        v1.post("images/{ref}/tag") { req, ctx in
            await respondEmpty {
                guard let name = req.uri.queryParameters["name"] else { throw AgentError.invalid("tag needs ?name=NEW") }
                try await images.tag(try imageRef(ctx), as: String(name))
            }
        }
        v1.delete("images/{ref}") { req, ctx in
            await respondEmpty {
                try await images.remove(try imageRef(ctx), inUse: try await manager.imagesInUse(),
                                        force: req.uri.queryParameters["force"].map(flag) ?? false)
            }
        }
    }
}

// MARK: Helpers

private func flag(_ s: Substring) -> Bool { s == "1" || s == "true" || s == "yes" }

private func intParameter(_ req: Request, _ name: String) throws -> Int? {
    guard let s = req.uri.queryParameters[Substring(name)] else { return nil }
    guard let n = Int(s), n >= 0 else { throw AgentError.invalid("?\(name)=\(s): expected a whole number ≥ 0") }
    return n
}

private func imageRef(_ ctx: some RequestContext) throws -> String {
    let raw = try ctx.parameters.require("ref")
    return raw.removingPercentEncoding ?? raw
}

private let encoder: JSONEncoder = {
    let e = JSONEncoder()
    e.dateEncodingStrategy = .iso8601
    e.outputFormatting = [.sortedKeys]
    return e
}()

private let decoder: JSONDecoder = {
    let d = JSONDecoder()
    d.dateDecodingStrategy = .iso8601
    return d
}()

private func decode<T: Decodable>(_ type: T.Type, _ req: Request, limit: Int) async throws -> T {
    let buffer: ByteBuffer
    do { buffer = try await req.body.collect(upTo: limit) } catch {
        throw AgentError.tooLarge("request body is larger than \(limit) bytes, the limit")
    }
    do { return try decoder.decode(T.self, from: Data(buffer.readableBytesView)) } catch let DecodingError.keyNotFound(key, ctx) {
        throw AgentError.invalid("request body: missing field \((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))")
    } catch let DecodingError.typeMismatch(_, ctx) {
        throw AgentError.invalid("request body: field \(ctx.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
    } catch let DecodingError.valueNotFound(_, ctx) {
        throw AgentError.invalid("request body: field \(ctx.codingPath.map(\.stringValue).joined(separator: ".")) is null")
    } catch {
        throw AgentError.invalid("request body is not valid JSON for \(T.self)")
    }
}

private func encode(_ value: some Encodable, status: HTTPResponse.Status) throws -> Response {
    let data = try encoder.encode(value)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

private func json(_ value: some Encodable) -> Response {
    (try? encode(value, status: .ok)) ?? errorResponse(AgentError.failed("could not encode the answer"))
}

private func raw(_ data: Data) -> Response {
    Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

private func respond(_ body: () async throws -> some Encodable) async -> Response {
    do { return try encode(try await body(), status: .ok) } catch { return errorResponse(error) }
}

private func respondEmpty(_ body: () async throws -> Void) async -> Response {
    do { try await body(); return Response(status: .noContent) } catch { return errorResponse(error) }
}

func errorResponse(_ error: any Error) -> Response {
    let status: Int
    let message: String
    if let e = error as? AgentError { status = e.status; message = e.description } else { status = 500; message = "\(error)" }
    let body = (try? encoder.encode(APIError(message: message))) ?? Data("{}".utf8)
    return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
}

private func exitFrame(_ exit: ContainerExit) -> StreamFrame {
    StreamFrame(kind: .exit, payload: Array((try? encoder.encode(exit)) ?? Data("{\"exitCode\":255}".utf8)))
}

let agentStreamType = "application/vnd.pier.stream"

/// A chunked response whose frames `produce` emits as they come.
/// Names the container an attached run created, so the client can forward signals to it.
private let containerIDHeader = HTTPField.Name("Pier-Container-Id")!

private func streamResponse(headers extra: HTTPFields = [:],
                            _ produce: @escaping @Sendable (_ emit: @escaping @Sendable (StreamFrame) -> Void) async -> Void) -> Response {
    var headers: HTTPFields = [.contentType: agentStreamType]
    headers.append(contentsOf: extra)
    return Response(status: .ok, headers: headers, body: ResponseBody { writer in
        let (stream, continuation) = AsyncStream<StreamFrame>.makeStream()
        let producer = Task {
            await produce { continuation.yield($0) }
            continuation.finish()
        }
        defer { producer.cancel() }
        for await frame in stream {
            try await writer.write(ByteBuffer(bytes: frame.encoded()))
        }
        try await writer.finish(nil)
    })
}

private func fileResponse(_ file: URL, removeAfter: Bool) -> Response {
    Response(status: .ok, headers: [.contentType: "application/x-tar"], body: ResponseBody { writer in
        defer { if removeAfter { try? FileManager.default.removeItem(at: file) } }
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            try await writer.write(ByteBuffer(bytes: chunk))
        }
        try await writer.finish(nil)
    })
}

/// Streams a request body to a temporary file (imports can be large), at most `maxBytes` and
/// half the space free on the file system.
private func receiveFile(_ body: RequestBody, into dir: URL, limit maxBytes: Int64) async throws -> URL {
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let limit = min(maxBytes, (FreeSpace.bytes(at: dir) ?? .max) / 2)
    let file = dir.appendingPathComponent("upload-\(UUID().uuidString).tar")
    _ = FileManager.default.createFile(atPath: file.path, contents: nil)
    let handle = try FileHandle(forWritingTo: file)
    do {
        var received: Int64 = 0
        for try await buffer in body {
            received += Int64(buffer.readableBytes)
            guard received <= limit else {
                throw AgentError.tooLarge("the image archive is larger than \(limit) bytes, the import limit (at most half the free disk space)")
            }
            try handle.write(contentsOf: buffer.readableBytesView)
        }
        try handle.close()
    } catch {
        try? handle.close()
        try? FileManager.default.removeItem(at: file)
        throw error
    }
    return file
}

import PierCoAP

/// The CoAP resources of `pier-compute`: PUT or POST an integer array to `/average`,
/// `/mergesort` or `/bubblesort` and get the result back as JSON.
///
/// A sorted array of a few thousand numbers is larger than one datagram: it goes back in Block2
/// blocks, and the client fetches block 1, 2, … by repeating the request with a Block2 option and
/// no body (RFC 7959 §2.4, §3.3). Those follow-ups are served from `ResultCache`, not recomputed.
struct ComputeService: Sendable {
    /// Limits on the work one request may ask for.
    struct Configuration: Sendable {
        /// Integers accepted by `/average` and `/mergesort`; more is 4.13.
        var maxItems = 100_000
        /// Integers accepted by `/bubblesort`, whose cost grows with the square; more is 4.13.
        var maxBubbleSortItems = 20_000
        /// Results kept for Block2 follow-up requests.
        var cachedResults = 64

        func limit(for task: ComputeTask) -> Int { task == .bubblesort ? min(maxItems, maxBubbleSortItems) : maxItems }
    }

    let configuration: Configuration
    let cache: ResultCache

    init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.cache = ResultCache(capacity: configuration.cachedResults)
    }

    /// One resource per task, each listed in `/.well-known/core` with `rt="pier.compute"`.
    var resources: [CoAPResource] {
        ComputeTask.allCases.map { task in
            CoAPResource(
                path: task.path, resourceTypes: ["pier.compute"], interfaces: ["core.p"],
                contentFormats: [CoAPContentFormat.json], title: task.summary
            ) { request in await handle(task, request) }
        }
    }

    func handle(_ task: ComputeTask, _ request: CoAPRequest) async -> CoAPResponse {
        switch request.method {
        case .get:
            let text = "\(task.summary). PUT or POST a JSON array of integers ([3,1,2]) or \"3 1 2\"; at most \(configuration.limit(for: task))."
            return CoAPResponse(code: .content, options: [CoAPOption(.contentFormat, uint: CoAPContentFormat.textPlain)], payload: Array(text.utf8))
        case .put, .post:
            break
        default:
            return CoAPResponse(code: .methodNotAllowed, diagnostic: "\(task.path) answers PUT and POST with an integer array, and GET with its description")
        }
        // Block 1, 2, … of a result already sent: the request repeats without its body.
        if request.payload.isEmpty, let block = try? request.message.block2(), block.number > 0 {
            guard let body = await cache.result(for: CacheKey(peer: "\(request.peer)", path: task.path, method: request.method.rawValue)) else {
                return CoAPResponse(
                    code: .requestEntityIncomplete,
                    diagnostic: "no recent \(task.path) result to continue with Block2 \(block); send the whole request again")
            }
            return Self.result(body)
        }
        let limit = configuration.limit(for: task)
        let numbers: [Int]
        do {
            numbers = try IntegerList.parse(request.payload, limit: limit)
        } catch .tooMany {
            return CoAPResponse(
                code: .requestEntityTooLarge, diagnostic: "\(task.path) takes at most \(limit) integers; send fewer")
        } catch {
            return CoAPResponse(code: .badRequest, diagnostic: "\(task.path): \(error)")
        }
        guard let result = task.run(numbers) else {
            return CoAPResponse(code: .badRequest, diagnostic: "\(task.path): the array is empty; there is no average of nothing")
        }
        let body = Array(result.utf8)
        if body.count > 1024 {
            await cache.store(body, for: CacheKey(peer: "\(request.peer)", path: task.path, method: request.method.rawValue))
        }
        return Self.result(body)
    }

    static func result(_ body: [UInt8]) -> CoAPResponse {
        // 2.04 Changed is what a PUT or POST that produced a result answers (RFC 7252 §5.8.2–3).
        CoAPResponse(code: .changed, options: [CoAPOption(.contentFormat, uint: CoAPContentFormat.json)], payload: body)
    }
}

/// Who asked for which result: the peer's address, the path and the method.
struct CacheKey: Hashable, Sendable {
    var peer: String
    var path: String
    var method: UInt8
}

/// The last few large results, for Block2 follow-up requests; the oldest is forgotten first.
actor ResultCache {
    private let capacity: Int
    private var entries: [CacheKey: [UInt8]] = [:]
    private var order: [CacheKey] = []

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func store(_ body: [UInt8], for key: CacheKey) {
        if entries.updateValue(body, forKey: key) != nil { order.removeAll { $0 == key } }
        order.append(key)
        while order.count > capacity { entries[order.removeFirst()] = nil }
    }

    func result(for key: CacheKey) -> [UInt8]? { entries[key] }
}

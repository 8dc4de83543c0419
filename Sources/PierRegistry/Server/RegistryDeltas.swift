import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PierOCI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Delta updates: a binary patch (`zstd --patch-from`) that turns a blob a node already holds
/// into the blob it needs, computed on demand and cached beside the content store
/// (`<content>/deltas/<from>-<to>.zst`). Exact bytes: the node applies the patch to its copy
/// of `from` and checks the result against the digest before storing it, so a wrong or tampered
/// patch is caught like a tampered blob, and the node falls back to the whole blob.
///
/// Patches are small when the two blobs share byte runs: uncompressed layers, and the layers
/// Pier's builder writes, whose gzip stream restarts at content-defined chunk boundaries so
/// unchanged files compress to unchanged bytes. A patch that would not save at least half of
/// the blob is not offered (404), and the client downloads the blob.
public enum RegistryDeltas {
    public static let mediaType = "application/vnd.pier.delta.zstd-patch"
    public static var defaultZstd: String? {
        ["/usr/bin/zstd", "/bin/zstd", "/usr/local/bin/zstd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// How a zstd run ended.
    enum Outcome: Equatable {
        case succeeded, failed
        /// Killed after running for the time limit.
        case timedOut
    }

    /// Whether a zstd run ended, and whether its timer killed it.
    final class RunState: Sendable {
        let value = Mutex((exited: false, killed: false))
    }

    /// Runs zstd, killing it (SIGKILL) once it has run for `timeLimit`.
    static func zstd(_ path: String, _ arguments: [String], timeLimit: Duration? = nil) async -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        // Set under the lock: whether zstd ended, and whether the timer killed it.
        let state = RunState()
        let (started, startedContinuation) = AsyncStream.makeStream(of: Int32.self)
        let timer: Task<Void, Never>? = timeLimit.map { limit in
            Task {
                var pids = started.makeAsyncIterator()
                guard let pid = await pids.next() else { return }
                try? await Task.sleep(for: limit)
                guard !Task.isCancelled else { return }
                state.value.withLock { s in
                    guard !s.exited else { return }
                    s.killed = true
                    kill(pid, SIGKILL)
                }
            }
        }
        let status: Int32? = await withCheckedContinuation { continuation in
            process.terminationHandler = {
                state.value.withLock { $0.exited = true }
                continuation.resume(returning: $0.terminationStatus)
            }
            do { try process.run() } catch {
                process.terminationHandler = nil
                startedContinuation.finish()
                continuation.resume(returning: nil)
                return
            }
            startedContinuation.yield(process.processIdentifier)
            startedContinuation.finish()
        }
        timer?.cancel()
        if state.value.withLock({ $0.killed }) { return .timedOut }
        return status == 0 ? .succeeded : .failed
    }

    /// The patch from `base` (a file) to `target` (a file), written to `output`; zstd is killed
    /// after `timeLimit`.
    public static func makePatch(zstd: String, base: URL, target: URL, output: URL, timeLimit: Duration? = nil) async -> Bool {
        await makePatchOutcome(zstd: zstd, base: base, target: target, output: output, timeLimit: timeLimit) == .succeeded
    }

    static func makePatchOutcome(zstd: String, base: URL, target: URL, output: URL, timeLimit: Duration?) async -> Outcome {
        await Self.zstd(zstd, ["-q", "-f", "--long=31", "--patch-from=\(base.path)", target.path, "-o", output.path], timeLimit: timeLimit)
    }

    /// Applies a patch to `base`, writing the result to `output`.
    /// With `maxOutputBytes`, zstd runs under a file-size limit (`ulimit -f`): a patch that
    /// would write more (a forged one from a hostile registry) fails instead of filling the disk.
    public static func applyPatch(zstd: String, base: URL, patch: URL, output: URL, maxOutputBytes: Int64? = nil) async -> Bool {
        let arguments = ["-d", "-q", "-f", "--long=31", "--patch-from=\(base.path)", patch.path, "-o", output.path]
        guard let maxOutputBytes else { return await Self.zstd(zstd, arguments) == .succeeded }
        // `ulimit -f` counts 512-byte blocks; one more than the size allows the exact size.
        let blocks = max(0, maxOutputBytes) / 512 + 1
        return await Self.zstd("/bin/sh", ["-c", "ulimit -f \(blocks) && exec \"$0\" \"$@\"", zstd] + arguments) == .succeeded
    }
}

extension RegistryRoutes {
    func delta(_ reference: String, in repository: Repository, request: Request, context: Context) async throws -> Response {
        let target = try Self.parseDigest(reference)
        guard let fromText = request.uri.queryParameters["from"].map(String.init) else {
            throw RegistryHTTPError(.digestInvalid, "a delta needs ?from=<digest of the blob the client has>")
        }
        let base = try Self.parseDigest(fromText)
        guard let zstd = configuration.zstdPath else {
            throw RegistryHTTPError(.blobUnknown, "this registry computes no deltas (zstd is not installed); download the blob")
        }
        let reachable = try await GarbageCollector.reachable(from: repository.roots, in: content)
        let justPushed = await uploads?.wasPushed(target, repository: repository.name) ?? false
        guard reachable.contains(target) || justPushed, let targetSize = try? await content.size(of: target) else {
            throw RegistryHTTPError(.blobUnknown, "blob \(target) is not in repository \(repository.name)")
        }
        guard base != target, await content.has(base), let baseSize = try? await content.size(of: base) else {
            throw RegistryHTTPError(.blobUnknown, "the registry does not hold \(base) to compute a delta from; download the blob")
        }
        let directory = content.root.appendingPathComponent("deltas")
        let patch = directory.appendingPathComponent("\(base.encoded)-\(target.encoded).zst")
        let useless = directory.appendingPathComponent("\(base.encoded)-\(target.encoded).useless")
        if FileManager.default.fileExists(atPath: useless.path) {
            throw RegistryHTTPError(.blobUnknown, "no delta from \(base) to \(target) is worth sending; download the blob")
        }
        if !FileManager.default.fileExists(atPath: patch.path) {
            let input = baseSize.addingReportingOverflow(targetSize)
            guard !input.overflow, input.partialValue <= configuration.maxDeltaInputBytes else {
                throw RegistryHTTPError(
                    .blobUnknown,
                    "a delta from \(base) to \(target) would read \(baseSize) + \(targetSize) bytes, more than this registry's limit of \(configuration.maxDeltaInputBytes); download the blob")
            }
            guard deltaSlots.tryAcquire() else {
                throw RegistryHTTPError(
                    .tooManyRequests, "the registry is computing \(deltaSlots.limit) deltas already, its limit; retry later or download the blob",
                    headers: [.retryAfter: "5"])
            }
            defer { deltaSlots.release() }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let temporary = directory.appendingPathComponent(".\(UUID().uuidString).tmp")
            defer { try? FileManager.default.removeItem(at: temporary) }
            switch await RegistryDeltas.makePatchOutcome(
                zstd: zstd, base: content.blobURL(for: base), target: content.blobURL(for: target), output: temporary,
                timeLimit: configuration.deltaTimeLimit)
            {
            case .succeeded: break
            case .timedOut:
                throw RegistryHTTPError(
                    .blobUnknown, "computing the delta from \(base) to \(target) took longer than \(configuration.deltaTimeLimit), this registry's limit; download the blob")
            case .failed:
                throw RegistryHTTPError(.blobUnknown, "computing the delta from \(base) to \(target) failed; download the blob")
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: temporary.path)[.size] as? NSNumber)?.int64Value ?? targetSize
            guard size * 2 < targetSize else {
                FileManager.default.createFile(atPath: useless.path, contents: nil)
                throw RegistryHTTPError(.blobUnknown, "no delta from \(base) to \(target) is worth sending (\(size) of \(targetSize) bytes); download the blob")
            }
            // rename(2) replaces atomically: a reader sees the old patch or the whole new one.
            guard rename(temporary.path, patch.path) == 0 else {
                throw RegistryHTTPError(.blobUnknown, "storing the delta failed: \(String(cString: strerror(errno))); download the blob")
            }
        }
        let size = (try FileManager.default.attributesOfItem(atPath: patch.path)[.size] as? NSNumber)?.int64Value ?? 0
        var headers: HTTPFields = [.contentType: RegistryDeltas.mediaType, .contentLength: String(size), .dockerContentDigest: target.description]
        headers[.pierDeltaBase] = base.description
        if request.method == .head || size == 0 { return Response(status: .ok, headers: headers) }
        let body = try await FileIO().loadFile(path: patch.path, range: 0...Int(size - 1), context: context)
        return Response(status: .ok, headers: headers, body: body)
    }
}

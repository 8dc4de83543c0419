import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PierOCI

extension RegistryClient {
    /// Downloads `blobs` into the content store, `maxConcurrentDownloads` at a time; returns
    /// the bytes received and the blobs that came as deltas. A blob with a base in `bases` is
    /// first asked for as a delta against it; when that fails in any way, it is downloaded whole.
    /// The first failure of a whole download cancels the others.
    /// `stored` is called with each blob once it is in the store.
    func downloadAll(
        _ blobs: [Descriptor], repository: String, bases: [Digest: Digest] = [:], stored: (@Sendable (Descriptor) -> Void)? = nil
    ) async throws -> (bytes: Int64, deltas: [Digest]) {
        let limit = max(1, configuration.maxConcurrentDownloads)
        return try await withThrowingTaskGroup(of: (Int64, Digest?).self) { group in
            var pending = blobs[...]
            var total: Int64 = 0
            var deltas: [Digest] = []
            func add(_ result: (Int64, Digest?)) {
                total += result.0
                if let d = result.1 { deltas.append(d) }
            }
            while let blob = pending.popFirst() {
                group.addTask {
                    if let base = bases[blob.digest], let bytes = await self.downloadDelta(blob, base: base, repository: repository) {
                        stored?(blob)
                        return (bytes, blob.digest)
                    }
                    let bytes = try await self.download(blob, repository: repository)
                    stored?(blob)
                    return (bytes, nil)
                }
                if pending.startIndex - blobs.startIndex >= limit, let result = try await group.next() { add(result) }
            }
            for try await result in group { add(result) }
            return (total, deltas)
        }
    }

    /// Fetches a patch from `base` (a blob the store holds) to `blob` through the registry's
    /// delta extension, applies it and stores the result if, and only if, it verifies. Returns
    /// the patch's size, or nil when there is no usable delta (the caller downloads the blob).
    func downloadDelta(_ blob: Descriptor, base: Digest, repository: String) async -> Int64? {
        guard let zstd = configuration.zstdPath, await content.has(base) else { return nil }
        let url = "\(baseURL)/v2/\(repository)/_pier/delta/\(blob.digest)?from=\(base)"
        let id = UUID().uuidString
        let patch = content.ingestDirectory.appendingPathComponent(".delta-\(id).zst")
        let output = content.ingestDirectory.appendingPathComponent(".delta-\(id).out")
        defer {
            try? FileManager.default.removeItem(at: patch)
            try? FileManager.default.removeItem(at: output)
        }
        do {
            let response = try await execute(request(url), deadline: .now() + Self.timeAmount(configuration.readTimeout))
            guard response.status == .ok else {
                _ = try? await response.body.collect(upTo: 64 << 10)
                return nil
            }
            guard FileManager.default.createFile(atPath: patch.path, contents: nil) else { return nil }
            let handle = try FileHandle(forWritingTo: patch)
            defer { try? handle.close() }
            var received: Int64 = 0
            for try await buffer in response.body {
                received += Int64(buffer.readableBytes)
                // A patch as large as the blob saves nothing: stop and download the blob.
                guard received < blob.size else { return nil }
                try handle.write(contentsOf: buffer.readableBytesView)
                configuration.progress?(BlobProgress(digest: blob.digest, received: received, total: blob.size, delta: true, done: false))
            }
            try handle.close()
            guard await RegistryDeltas.applyPatch(
                zstd: zstd, base: content.blobURL(for: base), patch: patch, output: output, maxOutputBytes: blob.size)
            else { return nil }
            try await content.ingest(file: output, expecting: blob.digest, size: blob.size)
            configuration.progress?(BlobProgress(digest: blob.digest, received: received, total: blob.size, delta: true, done: true))
            return received
        } catch {
            return nil
        }
    }

    /// Streams one blob into the store, resuming with `Range` after a broken connection, and
    /// commits it only when its digest and size match `descriptor`. Returns the bytes received.
    /// It gives up after `maxAttempts` breaks in a row that brought no new bytes: on a flaky
    /// link every break that made progress starts the count again. What it got before giving up
    /// (or before the process was killed) stays in the store's partial file for the blob, and the
    /// next download of the blob starts from there; if the whole then fails to verify, the partial
    /// bytes are dropped and the blob is fetched once more from the start.
    func download(_ descriptor: Descriptor, repository: String) async throws -> Int64 {
        let url = "\(baseURL)/v2/\(repository)/blobs/\(descriptor.digest)"
        var writer = try content.makeWriter(resuming: descriptor.digest, size: descriptor.size)
        defer { writer.discard() }
        var received: Int64 = 0
        // A partial file may already hold every byte (a kill between the last byte and the commit).
        var attempts = writer.resumedFrom > 0 ? 1 : 0, fruitless = 0
        while true {
            while writer.count < descriptor.size || attempts == 0 {
                attempts += 1
                let before = writer.count
                do {
                    try await fetch(url, descriptor: descriptor, into: writer, received: &received)
                    if writer.count < descriptor.size { throw EndedEarly(received: writer.count, size: descriptor.size) }
                } catch {
                    if let error = error as? RegistryClientError {
                        // Bytes that cannot be right are dropped; after a refusal (an error
                        // status, a lost login) they are kept for the next pull to resume.
                        switch error {
                        case .blobDoesNotVerify, .unexpectedResponse: writer.abandon()
                        default: break
                        }
                        throw error
                    }
                    if error is ContentStoreError {
                        writer.abandon()
                        throw error
                    }
                    if error is CancellationError || Task.isCancelled { throw CancellationError() }
                    fruitless = writer.count > before ? 0 : fruitless + 1
                    guard fruitless < max(1, configuration.maxAttempts) else {
                        throw RegistryClientError.transfer(url: url, attempts: attempts, "\(error)")
                    }
                    try await Task.sleep(for: .milliseconds(fruitless == 0 ? 50 : 100 << min(fruitless, 5)))
                }
            }
            let resumed = writer.resumedFrom > 0
            guard let failure = Self.commit(writer, descriptor) else { break }
            // Bytes kept from an earlier writer may be what is wrong: once, start over.
            guard resumed else { throw RegistryClientError.blobDoesNotVerify(descriptor.digest, failure) }
            writer = try content.makeWriter(resuming: descriptor.digest, size: descriptor.size)
            attempts = 0
        }
        configuration.progress?(BlobProgress(digest: descriptor.digest, received: descriptor.size, total: descriptor.size, delta: false, done: true))
        return received
    }

    /// Commits a downloaded blob; the reason when it does not verify.
    private static func commit(_ writer: ContentWriter, _ descriptor: Descriptor) -> String? {
        do {
            _ = try writer.commit(expecting: descriptor.digest, size: descriptor.size)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// One request for the rest of a blob: from byte `writer.count` on, adding what arrives to
    /// `received` even when the connection breaks. A registry that ignores `Range` and sends the
    /// whole blob restarts the write.
    private func fetch(
        _ url: String, descriptor: Descriptor, into writer: ContentWriter, received: inout Int64
    ) async throws {
        let offset = writer.count
        var request = self.request(url)
        if offset > 0 { request.headers.replaceOrAdd(name: "Range", value: "bytes=\(offset)-") }
        let response = try await execute(request, deadline: .distantFuture)
        switch response.status {
        case .ok:
            if offset > 0 { try writer.restart() }
        case .partialContent where offset > 0:
            let range = response.headers.first(name: "Content-Range") ?? ""
            guard range.hasPrefix("bytes \(offset)-") else {
                throw RegistryClientError.unexpectedResponse(url: url, "asked for bytes from \(offset), got Content-Range \"\(range)\"")
            }
        default:
            let body = (try? await response.body.collect(upTo: 64 << 10)) ?? ByteBuffer()
            throw Self.error(for: response, body: body, url: url)
        }
        for try await buffer in response.body {
            try buffer.withUnsafeReadableBytes { try writer.write($0) }
            received += Int64(buffer.readableBytes)
            configuration.progress?(BlobProgress(digest: descriptor.digest, received: writer.count, total: descriptor.size, delta: false, done: false))
            if writer.count > descriptor.size {
                throw RegistryClientError.blobDoesNotVerify(
                    descriptor.digest, "the registry sent more than the \(descriptor.size) bytes the manifest declares")
            }
        }
    }
}

/// A blob response that ended before the declared size; retried like a broken connection.
struct EndedEarly: Error, CustomStringConvertible {
    var received: Int64
    var size: Int64
    var description: String { "the response ended after \(received) of \(size) bytes" }
}

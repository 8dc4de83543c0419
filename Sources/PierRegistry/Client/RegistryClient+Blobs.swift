import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PierOCI

extension RegistryClient {
    /// Downloads `blobs` into the content store, `maxConcurrentDownloads` at a time; returns
    /// the bytes received. The first failure cancels the others.
    func downloadAll(_ blobs: [Descriptor], repository: String) async throws -> Int64 {
        let limit = max(1, configuration.maxConcurrentDownloads)
        return try await withThrowingTaskGroup(of: Int64.self) { group in
            var pending = blobs[...]
            var total: Int64 = 0
            while let blob = pending.popFirst() {
                group.addTask { try await self.download(blob, repository: repository) }
                if pending.startIndex - blobs.startIndex >= limit, let bytes = try await group.next() { total += bytes }
            }
            for try await bytes in group { total += bytes }
            return total
        }
    }

    /// Streams one blob into the store, resuming with `Range` after a broken connection, and
    /// commits it only when its digest and size match `descriptor`. Returns the bytes received.
    func download(_ descriptor: Descriptor, repository: String) async throws -> Int64 {
        let url = "\(baseURL)/v2/\(repository)/blobs/\(descriptor.digest)"
        var writer = try content.makeWriter()
        defer { writer.discard() }
        var received: Int64 = 0
        var attempt = 0
        while writer.count < descriptor.size || attempt == 0 {
            attempt += 1
            do {
                try await fetch(url, descriptor: descriptor, into: &writer, received: &received)
                if writer.count < descriptor.size { throw EndedEarly(received: writer.count, size: descriptor.size) }
            } catch {
                if error is RegistryClientError || error is ContentStoreError || error is CancellationError { throw error }
                if Task.isCancelled { throw CancellationError() }
                guard attempt < max(1, configuration.maxAttempts) else {
                    throw RegistryClientError.transfer(url: url, attempts: attempt, "\(error)")
                }
                try await Task.sleep(for: .milliseconds(100 << min(attempt, 5)))
            }
        }
        do {
            _ = try writer.commit(expecting: descriptor.digest, size: descriptor.size)
        } catch let error as ContentStoreError {
            throw RegistryClientError.blobDoesNotVerify(descriptor.digest, error.description)
        }
        return received
    }

    /// One request for the rest of a blob: from byte `writer.count` on, adding what arrives to
    /// `received` even when the connection breaks. A registry that ignores `Range` and sends the
    /// whole blob restarts the write.
    private func fetch(
        _ url: String, descriptor: Descriptor, into writer: inout ContentWriter, received: inout Int64
    ) async throws {
        let offset = writer.count
        var request = self.request(url)
        if offset > 0 { request.headers.replaceOrAdd(name: "Range", value: "bytes=\(offset)-") }
        let response = try await http.execute(request, deadline: .distantFuture)
        switch response.status {
        case .ok:
            if offset > 0 {
                writer.discard()
                writer = try content.makeWriter()
            }
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

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing
@testable import PierManager

/// A request body over the manager's limit is refused with 413 naming the limit, before it is decoded.
@Suite struct BodyLimitTests {
    static func request(_ bytes: Int) -> Request {
        Request(
            head: HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/v1/services"),
            body: .init(buffer: ByteBuffer(repeating: UInt8(ascii: " "), count: bytes)))
    }

    @Test func aBodyOverTheLimitAnswers413() async throws {
        await #expect {
            _ = try await JSONResponses.decode([String].self, Self.request(2000), limit: 1000)
        } throws: { error in
            guard case ManagerError.tooLarge(let message) = error else { return false }
            return message.contains("1000 bytes") && JSONResponses.error(error).status == .contentTooLarge
        }
        // Within the limit the body is decoded (and invalid JSON is a 400, not a 413).
        await #expect {
            _ = try await JSONResponses.decode([String].self, Self.request(10), limit: 1000)
        } throws: { error in
            guard case ManagerError.invalid = error else { return false }
            return JSONResponses.error(error).status == .badRequest
        }
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PierAPI

/// JSON in and out for the manager's API: the same error shape as the agent's (`APIError`).
enum JSONResponses {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys]
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()

    static func decode<T: Decodable>(_ type: T.Type, _ req: Request, limit: Int) async throws -> T {
        let buffer: ByteBuffer
        do { buffer = try await req.body.collect(upTo: limit) } catch {
            throw ManagerError.tooLarge("request body is larger than \(limit) bytes, the limit")
        }
        return try decode(type, Data(buffer.readableBytesView))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        func path(_ ctx: DecodingError.Context, _ key: (any CodingKey)? = nil) -> String {
            (ctx.codingPath + (key.map { [$0] } ?? [])).map(\.stringValue).joined(separator: ".")
        }
        do { return try decoder.decode(T.self, from: data) } catch let DecodingError.keyNotFound(key, ctx) {
            throw ManagerError.invalid("request body: missing field \(path(ctx, key))")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ManagerError.invalid("request body: field \(path(ctx)) has the wrong type")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw ManagerError.invalid("request body: field \(path(ctx)) is null")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw ManagerError.invalid("request body: \(ctx.codingPath.isEmpty ? "" : path(ctx) + ": ")\(ctx.debugDescription)")
        } catch {
            throw ManagerError.invalid("request body is not valid JSON for \(T.self)")
        }
    }

    static func encode(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func respond(status: HTTPResponse.Status = .ok, _ body: () async throws -> some Encodable) async -> Response {
        do { return try encode(try await body(), status: status) } catch { return Self.error(error) }
    }

    static func respondEmpty(_ body: () async throws -> Void) async -> Response {
        do { try await body(); return Response(status: .noContent) } catch { return self.error(error) }
    }

    static func error(_ error: any Error) -> Response {
        let status: HTTPResponse.Status
        switch error as? ManagerError {
        case .invalid: status = .badRequest
        case .notFound: status = .notFound
        case .conflict: status = .conflict
        case .unauthorized: status = .forbidden
        case .tooLarge: status = .contentTooLarge
        case .failed, nil: status = .internalServerError
        case .unavailable: status = .serviceUnavailable
        }
        let body = (try? encoder.encode(APIError(message: "\(error)"))) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

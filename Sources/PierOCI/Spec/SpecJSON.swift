import Foundation

/// JSON as the image-spec types are read and written.
public enum SpecJSON {
    /// Sorted keys and unescaped slashes, so equal values always encode to equal bytes.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// Decodes `T`, turning decoding errors into `ImageSpecError.invalidJSON` naming `what` and `digest`.
    public static func decode<T: Decodable>(_ data: Data, what: String, digest: Digest?) throws(ImageSpecError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw .invalidJSON(what: what, digest: digest, reason: describe(error))
        } catch {
            throw .invalidJSON(what: what, digest: digest, reason: "\(error)")
        }
    }

    /// A short account of a decoding error and where in the document it happened.
    public static func describe(_ error: DecodingError) -> String {
        func path(_ ctx: DecodingError.Context) -> String {
            let p = ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "" : " at \(p)"
        }
        switch error {
        case .keyNotFound(let key, let ctx): return "missing field \"\(key.stringValue)\"\(path(ctx))"
        case .typeMismatch(_, let ctx): return "wrong type\(path(ctx)): \(ctx.debugDescription)"
        case .valueNotFound(_, let ctx): return "missing value\(path(ctx))"
        case .dataCorrupted(let ctx): return "\(ctx.debugDescription)\(path(ctx))"
        @unknown default: return "\(error)"
        }
    }
}

/// The JSON body of a registry error response (OCI distribution-spec v1.1, "Error Codes"):
/// `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"…","detail":…}]}`.
public struct RegistryErrorBody: Codable, Sendable, Hashable {
    /// One error; `code` is kept as a string so unknown codes from other registries still decode.
    public struct Entry: Codable, Sendable, Hashable {
        public var code: String
        public var message: String
        public var detail: String?

        public init(code: String, message: String, detail: String? = nil) {
            self.code = code; self.message = message; self.detail = detail
        }
    }

    public var errors: [Entry]

    public init(errors: [Entry]) { self.errors = errors }

    /// A body holding one error.
    public init(_ code: RegistryErrorCode, message: String, detail: String? = nil) {
        self.errors = [Entry(code: code.rawValue, message: message, detail: detail)]
    }

    /// `CODE: message` for each error, joined for use in an error description.
    public var summary: String {
        errors.map { "\($0.code): \($0.message)" + ($0.detail.map { " (\($0))" } ?? "") }.joined(separator: "; ")
    }
}

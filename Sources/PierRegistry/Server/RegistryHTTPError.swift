import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An error response of the registry: the distribution-spec JSON body with the code's status.
struct RegistryHTTPError: HTTPResponseError {
    var code: RegistryErrorCode
    var message: String
    var detail: String?
    var headers: HTTPFields = [:]

    init(_ code: RegistryErrorCode, _ message: String, detail: String? = nil, headers: HTTPFields = [:]) {
        self.code = code; self.message = message; self.detail = detail; self.headers = headers
    }

    var status: HTTPResponse.Status { HTTPResponse.Status(code: code.status) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Self.response(status: status, body: RegistryErrorBody(code, message: message, detail: detail), headers: headers)
    }

    /// A JSON error response; also used for failures that have no distribution-spec code.
    static func response(status: HTTPResponse.Status, body: RegistryErrorBody, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        headers[.contentLength] = nil  // the body below sets its own
        let data = (try? JSONEncoder().encode(body)) ?? Data(#"{"errors":[]}"#.utf8)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

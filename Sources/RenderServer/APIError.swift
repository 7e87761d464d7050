// Errors a client can cause, each with its HTTP status and a stable code; the daemon answers them
// as `{"error": {"code", "message", "field"}}` and keeps serving.
import RenderAPI

/// An error answer.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: Int
    public let body: ErrorBody
    /// For 503: seconds after which to retry.
    public let retryAfter: Int?

    public init(status: Int, code: String, message: String, field: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.body = ErrorBody(code: code, message: message, field: field)
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status) \(body.error.code): \(body.error.message)" }

    static func invalid(_ field: String, _ message: String, code: String = "out_of_range") -> APIError {
        APIError(status: 400, code: code, message: message, field: field)
    }
    static func notFound(_ what: String) -> APIError { APIError(status: 404, code: "not_found", message: what) }
}

// The dbrenderd endpoints the client uses (DESIGN.md "Interfaces"): a streamed render, cancel, health.
// Turns HTTP statuses, error bodies and `error` stream events into ClientError.daemon.
import Foundation
import RenderAPI

/// Talks to one dbrenderd.
public struct DaemonClient: Sendable {
    /// The connection settings (socket, timeouts) every request uses.
    public var http: UnixHTTPClient

    public init(http: UnixHTTPClient) {
        self.http = http
    }

    /// `POST /v1/renders` with `Accept: application/x-ndjson`: calls `onEvent` for every stream event as
    /// it arrives (queued, started, progress, image, done) and returns the parameters of `done`.
    ///
    /// Throws `.daemon` for an error status or an `error` event, and `.streamEndedEarly` if the stream
    /// stops without either, cleanly or inside a chunk. A daemon that ignores `Accept` and answers one RenderResponseBody is
    /// understood too: its images are delivered as `image` events, then `done`.
    public func render(_ request: RenderRequestBody, onEvent: (StreamEvent) throws -> Void) throws -> RenderParameters {
        var renderHTTP = http
        renderHTTP.readTimeout = nil  // a queued job may wait silently for a long time
        let httpRequest = HTTPRequest(
            method: "POST", path: "/v1/renders",
            headers: [HTTPHeader("Content-Type", "application/json"), HTTPHeader("Accept", "application/x-ndjson")],
            body: Array(APIJSON.encode(request)))

        var head: HTTPResponseHead?
        var isStream = false
        var collected: [UInt8] = []
        var lines = LineSplitter()
        var outcome: RenderParameters?
        var jobID: String?
        func handleLine(_ line: [UInt8]) throws {
            guard !line.isEmpty else { return }
            let event: StreamEvent
            do {
                event = try APIJSON.decode(StreamEvent.self, from: Data(line))
            } catch {
                throw ClientError.malformedResponse("stream line is not an event: \(Self.excerpt(line))")
            }
            jobID = event.id
            switch event.event {
            case "error":
                throw ClientError.daemon(status: nil, event.error ?? ErrorBody(code: "internal", message: "unknown error").error,
                                         retryAfter: nil)
            case "done":
                guard let parameters = event.parameters else {
                    throw ClientError.malformedResponse("done event without parameters")
                }
                outcome = parameters
            default:
                break
            }
            try onEvent(event)
        }

        do {
            try renderHTTP.send(httpRequest, onHead: { received in
                head = received
                isStream = (200..<300).contains(received.status)
                    && (received.value(of: "Content-Type") ?? "").lowercased().contains("ndjson")
            }, onBody: { piece in
                if isStream {
                    try lines.feed(piece[...], onLine: handleLine)
                } else {
                    collected += piece
                }
            })
        } catch ClientError.closedMidBody where isStream {
            // A daemon killed mid-render, or a proxy that lost it: the chunked stream just stops.
            throw ClientError.streamEndedEarly(jobID: jobID)
        }
        guard let head else { throw ClientError.malformedResponse("no response head") }
        guard (200..<300).contains(head.status) else { throw Self.error(status: head.status, head: head, body: collected) }
        if isStream {
            if let last = lines.finish() { try handleLine(last) }
            guard let outcome else { throw ClientError.streamEndedEarly(jobID: jobID) }
            return outcome
        }
        return try Self.replay(collected, onEvent: onEvent)
    }

    /// `DELETE /v1/renders/{id}`: cancels a queued or running job.
    public func cancel(jobID: String) throws {
        let id = jobID.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? jobID
        let response = try http.send(HTTPRequest(method: "DELETE", path: "/v1/renders/\(id)"))
        guard (200..<300).contains(response.head.status) else {
            throw Self.error(status: response.head.status, head: response.head, body: response.body)
        }
    }

    /// `GET /v1/health`: the daemon's answer, as JSON text.
    public func health() throws -> String {
        let response = try http.send(HTTPRequest(method: "GET", path: "/v1/health"))
        guard (200..<300).contains(response.head.status) else {
            throw Self.error(status: response.head.status, head: response.head, body: response.body)
        }
        return String(decoding: response.body, as: UTF8.self)
    }

    /// An error answer as ClientError.daemon: its ErrorBody, or its text under code `http_<status>`.
    static func error(status: Int, head: HTTPResponseHead, body: [UInt8]) -> ClientError {
        let retryAfter = head.value(of: "Retry-After").flatMap { Int($0.trimmingBlanks) }
        if let decoded = try? APIJSON.decode(ErrorBody.self, from: Data(body)) {
            return .daemon(status: status, decoded.error, retryAfter: retryAfter)
        }
        let text = excerpt(body)
        let message = text.isEmpty ? (head.reason.isEmpty ? "HTTP status \(status)" : head.reason) : text
        return .daemon(status: status, ErrorBody(code: "http_\(status)", message: message).error, retryAfter: retryAfter)
    }

    /// A plain RenderResponseBody, replayed as the events a stream would have carried.
    static func replay(_ body: [UInt8], onEvent: (StreamEvent) throws -> Void) throws -> RenderParameters {
        let response: RenderResponseBody
        do {
            response = try APIJSON.decode(RenderResponseBody.self, from: Data(body))
        } catch {
            throw ClientError.malformedResponse("answer is neither a stream nor a render response: \(excerpt(body))")
        }
        for (index, image) in response.images.enumerated() {
            var event = StreamEvent(event: "image", id: response.id)
            event.index = index
            event.image = image
            try onEvent(event)
        }
        var done = StreamEvent(event: "done", id: response.id)
        done.parameters = response.parameters
        try onEvent(done)
        return response.parameters
    }

    /// The start of a body as one line of text, for error messages.
    static func excerpt(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(200), as: UTF8.self)
            .split(whereSeparator: \.isNewline).joined(separator: " ").trimmingBlanks
        return bytes.count > 200 ? text + "…" : text
    }
}

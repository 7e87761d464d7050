// End to end over a real Unix socket: the client against FakeDaemon — a chunked NDJSON stream cut at
// awkward places and delivered live, error statuses and error events, cancel, health, connect failures.
import Foundation
import RenderAPI
import Testing
@testable import RenderClient

@Suite struct DaemonClientTests {
    func client(_ daemon: FakeDaemon) -> DaemonClient {
        DaemonClient(http: UnixHTTPClient(socketPath: daemon.path, connectTimeout: 2, readTimeout: 5))
    }

    static var request: RenderRequestBody {
        var request = RenderRequestBody(prompt: "a photo of sks dog")
        request.seed = 42
        request.steps = 2
        request.sampler = "dpmpp_2m"
        return request
    }

    @Test func streamedRenderArrivesLive() throws {
        let events = Wire.events(id: "job-1")
        let body = Wire.ndjson(events)
        let firstLineEnd = body.firstIndex(of: UInt8(ascii: "\n"))! + 1
        // Chunks of 7 and 3 bytes never line up with the lines, and the wire pieces (5, 1, 11 bytes) cut
        // size lines and CRLFs apart. The daemon pauses after the first complete line: the client must
        // deliver `queued` before it has seen anything more.
        let firstPart = Wire.streamHead + Wire.chunked(Array(body[..<firstLineEnd]), sizes: [7, 3]).dropLast(5)
        let rest = Wire.chunked(Array(body[firstLineEnd...]), sizes: [7, 3])
        let sawQueued = DispatchSemaphore(value: 0)
        let daemon = FakeDaemon(answers: [Wire.pieces(Array(firstPart), sizes: [5, 1, 11]) + [.wait(sawQueued)]
                                          + Wire.pieces(rest, sizes: [5, 1, 11])])

        var received: [StreamEvent] = []
        let parameters = try client(daemon).render(Self.request) { event in
            received.append(event)
            if event.event == "queued" { sawQueued.signal() }
        }
        let (requests, failures) = daemon.finish()
        #expect(failures.isEmpty, "\(failures)")
        #expect(received == events)
        #expect(parameters == Wire.parameters(seed: 42, count: 1))

        let sent = try #require(requests.first)
        #expect(sent.method == "POST" && sent.path == "/v1/renders")
        #expect(sent.headers["accept"] == "application/x-ndjson")
        #expect(sent.headers["content-type"] == "application/json")
        #expect(try APIJSON.decode(RenderRequestBody.self, from: sent.body) == Self.request)
    }

    @Test func queueFullCarriesRetryAfter() throws {
        let daemon = FakeDaemon(answers: [[.send(Wire.response(status: 503, reason: "Service Unavailable", headers: ["Retry-After: 7"],
                                                              body: Wire.errorBody("queue_full", "64 jobs are waiting")))]])
        #expect(throws: ClientError.daemon(status: 503, ErrorBody(code: "queue_full", message: "64 jobs are waiting").error, retryAfter: 7)) {
            _ = try client(daemon).render(Self.request) { _ in }
        }
        #expect(daemon.finish().failures.isEmpty)
    }

    @Test func invalidFieldNamesTheField() throws {
        let daemon = FakeDaemon(answers: [[.send(Wire.response(status: 400, reason: "Bad Request",
                                                              body: Wire.errorBody("invalid_field", "width must be a multiple of 8", field: "width")))]])
        do {
            _ = try client(daemon).render(Self.request) { _ in }
            Issue.record("no error")
        } catch {
            #expect("\(error)" == "invalid_field: width must be a multiple of 8 (field: width)")
        }
    }

    @Test func errorWithoutAnErrorBody() throws {
        let daemon = FakeDaemon(answers: [[.send(Wire.response(status: 502, reason: "Bad Gateway", body: Array("upstream\nbroke".utf8)))]])
        #expect(throws: ClientError.daemon(status: 502, ErrorBody(code: "http_502", message: "upstream broke").error, retryAfter: nil)) {
            _ = try client(daemon).render(Self.request) { _ in }
        }
    }

    @Test func errorEventEndsTheRender() throws {
        var failure = StreamEvent(event: "error", id: "job-2")
        failure.error = ErrorBody(code: "cancelled", message: "job cancelled").error
        let body = Wire.ndjson([StreamEvent(event: "started", id: "job-2"), failure])
        let daemon = FakeDaemon(answers: [[.send(Wire.streamHead + Wire.chunked(body, sizes: [64]))]])
        var seen: [String] = []
        #expect(throws: ClientError.daemon(status: nil, ErrorBody(code: "cancelled", message: "job cancelled").error, retryAfter: nil)) {
            _ = try client(daemon).render(Self.request) { seen.append($0.event) }
        }
        #expect(seen == ["started"])
    }

    @Test func streamThatStopsShort() throws {
        let body = Wire.ndjson(Array(Wire.events(id: "job-3").prefix(3)))
        let daemon = FakeDaemon(answers: [[.send(Wire.streamHead + Wire.chunked(body, sizes: [10]))]])
        #expect(throws: ClientError.streamEndedEarly(jobID: "job-3")) { _ = try client(daemon).render(Self.request) { _ in } }

        // Cut inside a chunk (a killed daemon, or nginx losing it): the same error, with the job's id.
        let cut = FakeDaemon(answers: [[.send(Array((Wire.streamHead + Wire.chunked(body, sizes: [10])).dropLast(20)))]])
        #expect(throws: ClientError.streamEndedEarly(jobID: "job-3")) {
            _ = try client(cut).render(Self.request) { _ in }
        }
    }

    @Test func plainJSONAnswerIsReplayedAsEvents() throws {
        let image = RenderedImageBody(seed: 42, format: "png", data: "AAAA")
        let answer = RenderResponseBody(id: "job-4", images: [image], parameters: Wire.parameters(seed: 42, count: 1))
        let daemon = FakeDaemon(answers: [[.send(Wire.response(status: 200, reason: "OK", headers: ["Content-Type: application/json"],
                                                              body: Array(APIJSON.encode(answer))))]])
        var seen: [StreamEvent] = []
        let parameters = try client(daemon).render(Self.request) { seen.append($0) }
        #expect(seen.map(\.event) == ["image", "done"])
        #expect(seen.first?.image == image && seen.first?.index == 0)
        #expect(parameters == answer.parameters)
    }

    @Test func cancelSendsDelete() throws {
        let daemon = FakeDaemon(answers: [[.send(Wire.response(status: 200, reason: "OK", body: Array("{}".utf8)))],
                                          [.send(Wire.response(status: 404, reason: "Not Found", body: Wire.errorBody("not_found", "no job x")))]])
        try client(daemon).cancel(jobID: "job-5")
        #expect(throws: ClientError.daemon(status: 404, ErrorBody(code: "not_found", message: "no job x").error, retryAfter: nil)) {
            try client(daemon).cancel(jobID: "x")
        }
        let requests = daemon.finish().requests
        #expect(requests.map { "\($0.method) \($0.path)" } == ["DELETE /v1/renders/job-5", "DELETE /v1/renders/x"])
        #expect(requests[0].headers["content-length"] == nil)
    }

    @Test func health() throws {
        let daemon = FakeDaemon(answers: [[.send(Wire.response(status: 200, reason: "OK", body: Array("{\"status\":\"ok\"}".utf8)))]])
        #expect(try client(daemon).health() == "{\"status\":\"ok\"}")
        #expect(daemon.finish().requests.first?.path == "/v1/health")
    }

    @Test func readTimeout() throws {
        let never = DispatchSemaphore(value: 0)
        let daemon = FakeDaemon(answers: [[.wait(never)]])
        let quick = DaemonClient(http: UnixHTTPClient(socketPath: daemon.path, connectTimeout: 1, readTimeout: 0.2))
        #expect(throws: ClientError.readTimedOut(seconds: 0.2)) { _ = try quick.health() }
        never.signal()
    }

    @Test func connectFailuresSayWhatToCheck() throws {
        let client = DaemonClient(http: UnixHTTPClient(socketPath: "/tmp/dbrender-no-such-dir/d.sock",
                                                       alternativesTried: ["/run/dbrender/dbrender.sock"]))
        do {
            _ = try client.health()
            Issue.record("connected to nothing")
        } catch {
            #expect("\(error)" == "cannot connect to /tmp/dbrender-no-such-dir/d.sock: No such file or directory"
                    + " — is dbrenderd running? (also tried /run/dbrender/dbrender.sock)")
        }

        // A socket file nobody listens on (a daemon that died): refused.
        let directory = try TemporaryDirectory()
        let stale = FakeDaemon.staleSocket(at: directory.path("stale.sock"))
        #expect(throws: ClientError.cannotConnect(path: stale, errno: ECONNREFUSED, alsoTried: [])) {
            _ = try DaemonClient(http: UnixHTTPClient(socketPath: stale)).health()
        }

        let long = "/tmp/" + String(repeating: "x", count: 120)
        #expect(throws: ClientError.socketPathTooLong(path: long, limit: 107)) {
            _ = try DaemonClient(http: UnixHTTPClient(socketPath: long)).health()
        }
    }
}

// Response parsing: status line and fields, and each body framing — Content-Length, chunked, to the end of
// the connection — with the input split at every position.
import Testing
@testable import RenderClient

@Suite struct HTTPResponseDecoderTests {
    /// Feeds `pieces`, then the end of the connection; returns the head and the whole body.
    func parse(_ pieces: [ArraySlice<UInt8>], closeAtEnd: Bool = true) throws -> (head: HTTPResponseHead?, body: [UInt8], ended: Bool) {
        var decoder = HTTPResponseDecoder()
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        var ended = false
        var parts: [HTTPResponseDecoder.Part] = []
        for piece in pieces { parts += try decoder.feed(piece) }
        if closeAtEnd { parts += try decoder.finish() }
        for part in parts {
            switch part {
            case let .head(value): head = value
            case let .body(bytes): body += bytes
            case .end: ended = true
            }
        }
        return (head, body, ended)
    }

    func everySplit(_ bytes: [UInt8], check: ((head: HTTPResponseHead?, body: [UInt8], ended: Bool)) -> Void) throws {
        for cut in 0...bytes.count { check(try parse([bytes[..<cut], bytes[cut...]])) }
    }

    @Test func contentLengthBody() throws {
        let bytes = Array("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 5\r\nRetry-After:  7 \r\n\r\nhello".utf8)
        try everySplit(bytes) { result in
            #expect(result.head?.status == 503)
            #expect(result.head?.reason == "Service Unavailable")
            #expect(result.head?.value(of: "Retry-After") == "7")
            #expect(result.head?.value(of: "CONTENT-LENGTH") == "5")
            #expect(result.body == Array("hello".utf8))
            #expect(result.ended)
        }
    }

    @Test func endsWithoutWaitingForTheConnectionToClose() throws {
        let bytes = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi".utf8)
        let result = try parse([bytes[...]], closeAtEnd: false)
        #expect(result.ended && result.body == Array("hi".utf8))
    }

    @Test func chunkedBody() throws {
        let payload = Array("{\"event\":\"queued\"}\n{\"event\":\"done\"}\n".utf8)
        let bytes = Wire.streamHead + Wire.chunked(payload, sizes: [5, 1, 17])
        try everySplit(bytes) { result in
            #expect(result.head?.value(of: "content-type") == "application/x-ndjson")
            #expect(result.body == payload)
            #expect(result.ended)
        }
    }

    @Test func chunkedWinsOverContentLength() throws {
        let bytes = Array("HTTP/1.1 200 OK\r\nContent-Length: 999\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n".utf8)
        #expect(try parse([bytes[...]], closeAtEnd: false).body == Array("ok".utf8))
    }

    @Test func bodyUntilTheConnectionCloses() throws {
        let bytes = Array("HTTP/1.1 200 OK\nServer: old\n\nall of it".utf8)
        try everySplit(bytes) { result in
            #expect(result.head?.value(of: "server") == "old")
            #expect(result.body == Array("all of it".utf8))
            #expect(result.ended)
        }
    }

    @Test func skipsInterimAnswers() throws {
        let bytes = Array("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n".utf8)
        try everySplit(bytes) { result in
            #expect(result.head?.status == 204)
            #expect(result.body.isEmpty && result.ended)
        }
    }

    @Test func reportsACutShortBody() {
        let bytes = Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8)
        #expect(throws: ClientError.closedMidBody) { try parse([bytes[...]]) }
        #expect(throws: ClientError.malformedResponse("connection closed without an answer")) { try parse([]) }
        #expect(throws: ClientError.malformedResponse("connection closed inside the response head")) {
            try parse([Array("HTTP/1.1 200 OK\r\n".utf8)[...]])
        }
    }

    @Test(arguments: ["SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
                      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"])
    func rejectsWhatIsNotHTTP(_ text: String) {
        #expect(throws: ClientError.self) { try parse([Array(text.utf8)[...]]) }
    }
}

// A small blocking HTTP/1.1 client over a Unix-domain socket: one request per connection
// (`Connection: close`), the body sent with Content-Length, the answer parsed by HTTPResponseDecoder and
// handed over piece by piece as it arrives.
import Foundation

/// A request to send.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The request target, e.g. "/v1/renders".
    public var path: String
    public var headers: [HTTPHeader]
    public var body: [UInt8]

    public init(method: String, path: String, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// The bytes on the wire: request line, fields, empty line, body.
    public var serialized: [UInt8] {
        // The Host is required by HTTP/1.1 and meaningless on a Unix socket; curl sends "localhost" too.
        var text = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: dbrender\r\nConnection: close\r\n"
        for header in headers { text += "\(header.name): \(header.value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        return Array(text.utf8) + body
    }
}

/// A whole response, body collected.
public struct HTTPResponse: Sendable, Equatable {
    public var head: HTTPResponseHead
    public var body: [UInt8]
}

/// Sends requests to the HTTP server listening on a Unix socket.
public struct UnixHTTPClient: Sendable {
    /// The socket file.
    public var socketPath: String
    /// Longest wait for the daemon to accept the connection, in seconds.
    public var connectTimeout: Double
    /// Longest wait for the next bytes of an answer, in seconds; nil waits as long as it takes (a render
    /// can sit in the queue, silent, behind other jobs for minutes).
    public var readTimeout: Double?
    /// Other socket locations that were considered and did not exist (named in a connect error).
    public var alternativesTried: [String]

    /// A client of the server on `socketPath`; no connection is made until a request is sent.
    public init(socketPath: String, connectTimeout: Double = 5, readTimeout: Double? = 30, alternativesTried: [String] = []) {
        self.socketPath = socketPath
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.alternativesTried = alternativesTried
    }

    /// Sends `request` and delivers the answer as it arrives: first `onHead`, then `onBody` for each
    /// piece of the decoded body (chunked coding already removed). Returns when the answer is complete.
    public func send(_ request: HTTPRequest, onHead: (HTTPResponseHead) throws -> Void,
                     onBody: ([UInt8]) throws -> Void) throws {
        let socket: UnixSocket
        do {
            socket = try UnixSocket.connect(to: socketPath, timeout: connectTimeout)
        } catch .cannotConnect(let path, let code, _) {
            throw ClientError.cannotConnect(path: path, errno: code, alsoTried: alternativesTried)
        }
        defer { socket.close() }
        try socket.send(request.serialized)

        var decoder = HTTPResponseDecoder()
        while !decoder.isComplete {
            let bytes = try socket.receive(timeout: readTimeout)
            let parts = bytes.isEmpty ? try decoder.finish() : try decoder.feed(bytes[...])
            for part in parts {
                switch part {
                case let .head(head): try onHead(head)
                case let .body(piece): try onBody(piece)
                case .end: return
                }
            }
        }
    }

    /// Sends `request` and returns the whole answer.
    public func send(_ request: HTTPRequest) throws -> HTTPResponse {
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        try send(request, onHead: { head = $0 }, onBody: { body += $0 })
        guard let head else { throw ClientError.malformedResponse("no response head") }
        return HTTPResponse(head: head, body: body)
    }
}

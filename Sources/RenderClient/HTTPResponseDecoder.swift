// Incremental parser of one HTTP/1.1 response (RFC 9112): status line and header fields, then the body
// framed by Transfer-Encoding: chunked, by Content-Length, or by the end of the connection — delivered
// piece by piece as it arrives, so that a streamed answer can be shown while it is still coming.

/// One header field.
public struct HTTPHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The status line and header fields of a response.
public struct HTTPResponseHead: Sendable, Equatable {
    public var status: Int
    public var reason: String
    public var headers: [HTTPHeader]

    public init(status: Int, reason: String, headers: [HTTPHeader]) {
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    /// The first value of the header field `name` (names are case-insensitive).
    public func value(of name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// Feeds on the bytes of one response and reports its head, its body pieces and its end.
public struct HTTPResponseDecoder: Sendable {
    /// What a piece of input completed.
    public enum Part: Sendable, Equatable {
        case head(HTTPResponseHead)
        case body([UInt8])
        case end
    }

    private enum Framing: Sendable {
        case chunked(ChunkedDecoder)
        case length(remaining: Int)
        /// No length given: the body runs to the end of the connection.
        case untilClose
    }

    private var headBytes: [UInt8] = []
    private var framing: Framing?
    private var ended = false
    /// Where the search for the empty line that ends the head resumes.
    private var scanned = 0
    private static let maximumHeadLength = 64 << 10

    public init() {}

    /// Consumes `bytes` and returns the parts they complete, in order.
    public mutating func feed(_ bytes: ArraySlice<UInt8>) throws(ClientError) -> [Part] {
        var parts: [Part] = []
        var rest = bytes
        while !rest.isEmpty && !ended {
            guard let framing else {
                headBytes.append(contentsOf: rest)
                rest = []
                guard let headEnd = findHeadEnd() else {
                    guard headBytes.count <= Self.maximumHeadLength else {
                        throw .malformedResponse("response head longer than \(Self.maximumHeadLength) bytes")
                    }
                    break
                }
                let head = try Self.parseHead(headBytes[..<headEnd.start])
                rest = headBytes[headEnd.end...]
                headBytes = []
                scanned = 0
                // An interim 1xx answer precedes the real one; 101 would switch protocols, which we never ask for.
                if (100..<200).contains(head.status) && head.status != 101 { continue }
                parts.append(.head(head))
                try startBody(head)
                if ended { parts.append(.end) }
                continue
            }
            switch framing {
            case var .chunked(decoder):
                var payload: [UInt8] = []
                let used = try decoder.decode(rest, into: &payload)
                rest = rest.dropFirst(used)
                self.framing = .chunked(decoder)
                if !payload.isEmpty { parts.append(.body(payload)) }
                if decoder.isFinished { ended = true; parts.append(.end) }
            case let .length(remaining):
                let take = min(remaining, rest.count)
                parts.append(.body(Array(rest.prefix(take))))
                rest = rest.dropFirst(take)
                self.framing = .length(remaining: remaining - take)
                if remaining == take { ended = true; parts.append(.end) }
            case .untilClose:
                parts.append(.body(Array(rest)))
                rest = []
            }
        }
        return parts
    }

    /// The connection closed: returns the final `.end`, or throws if the answer was cut short.
    public mutating func finish() throws(ClientError) -> [Part] {
        if ended { return [] }
        guard let framing else {
            throw .malformedResponse(headBytes.isEmpty ? "connection closed without an answer" : "connection closed inside the response head")
        }
        guard case .untilClose = framing else { throw .closedMidBody }
        ended = true
        return [.end]
    }

    /// True once the whole response has been read.
    public var isComplete: Bool { ended }

    private mutating func startBody(_ head: HTTPResponseHead) throws(ClientError) {
        if head.status == 204 || head.status == 304 {
            framing = .length(remaining: 0)
            ended = true
            return
        }
        // RFC 9112 §6.3: chunked as the final coding wins over any Content-Length.
        if let codings = head.value(of: "Transfer-Encoding"),
           codings.lowercased().split(separator: ",").last?.trimmingBlanks == "chunked" {
            framing = .chunked(ChunkedDecoder())
        } else if let lengthField = head.value(of: "Content-Length") {
            guard let length = Int(lengthField.trimmingBlanks), length >= 0 else {
                throw .malformedResponse("bad Content-Length \"\(lengthField)\"")
            }
            framing = .length(remaining: length)
            ended = length == 0
        } else {
            framing = .untilClose
        }
    }

    /// Finds CRLF CRLF (or a bare LF LF) in the collected head bytes.
    private mutating func findHeadEnd() -> (start: Int, end: Int)? {
        let bytes = headBytes
        var index = max(0, scanned - 3)
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                if index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "\n") { return (index, index + 2) }
                if index + 2 < bytes.count && bytes[index + 1] == UInt8(ascii: "\r") && bytes[index + 2] == UInt8(ascii: "\n") {
                    return (index, index + 3)
                }
            }
            index += 1
        }
        scanned = bytes.count
        return nil
    }

    static func parseHead(_ bytes: ArraySlice<UInt8>) throws(ClientError) -> HTTPResponseHead {
        // Split the bytes, not a String: in Swift "\r\n" is one Character and would not split at "\n".
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
        }
        let statusLine = lines.removeFirst()
        // "HTTP/1.1 200 OK": the reason phrase may be empty or contain spaces.
        let fields = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/1."), fields[1].count == 3, let status = Int(fields[1]) else {
            throw .malformedResponse("not an HTTP/1.1 status line: \"\(statusLine.prefix(80))\"")
        }
        var headers: [HTTPHeader] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else {
                throw .malformedResponse("bad header line \"\(line.prefix(80))\"")
            }
            headers.append(HTTPHeader(String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingBlanks))
        }
        return HTTPResponseHead(status: status, reason: fields.count > 2 ? String(fields[2]) : "", headers: headers)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    var trimmingBlanks: String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[first...last])
    }
}

// Incremental decoder of HTTP/1.1 chunked transfer coding (RFC 9112 §7.1): `size-in-hex[;ext] CRLF data CRLF`
// … `0 CRLF [trailers] CRLF`. Bytes may arrive split anywhere — inside the size line, the data or a CRLF —
// so every state survives the end of a piece.

/// Turns chunked-coded bytes, fed in pieces of any size, back into the payload.
public struct ChunkedDecoder: Sendable {
    private enum State: Sendable {
        case sizeLine
        case data(remaining: Int)
        /// The CRLF that closes a chunk's data.
        case dataEnd
        /// Trailer fields after the last chunk, up to an empty line.
        case trailers
        case finished
    }

    private var state = State.sizeLine
    /// The line being collected (size line, CRLF after data, trailer line), without its LF.
    private var line: [UInt8] = []
    /// Size lines and trailer lines are short; a longer one means the peer is not speaking HTTP.
    private static let maximumLineLength = 8192

    public init() {}

    /// True once the last chunk and the trailers have been read.
    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    /// Decodes `bytes`, appending payload to `output`. Returns how many input bytes belonged to the chunked
    /// body (less than `bytes.count` only when the body ended inside this piece).
    @discardableResult
    public mutating func decode(_ bytes: ArraySlice<UInt8>, into output: inout [UInt8]) throws(ClientError) -> Int {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            switch state {
            case .finished:
                return index - bytes.startIndex
            case let .data(remaining):
                let take = min(remaining, bytes.endIndex - index)
                output.append(contentsOf: bytes[index..<index + take])
                index += take
                state = remaining == take ? .dataEnd : .data(remaining: remaining - take)
            case .sizeLine, .dataEnd, .trailers:
                let byte = bytes[index]
                index += 1
                if byte != UInt8(ascii: "\n") {
                    line.append(byte)
                    guard line.count <= Self.maximumLineLength else {
                        throw .malformedResponse("chunked body: line longer than \(Self.maximumLineLength) bytes")
                    }
                    continue
                }
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                try endOfLine()
                line.removeAll(keepingCapacity: true)
            }
        }
        return index - bytes.startIndex
    }

    private mutating func endOfLine() throws(ClientError) {
        switch state {
        case .sizeLine:
            let size = try Self.chunkSize(line)
            state = size == 0 ? .trailers : .data(remaining: size)
        case .dataEnd:
            guard line.isEmpty else { throw .malformedResponse("chunked body: chunk data longer than its size") }
            state = .sizeLine
        case .trailers:
            if line.isEmpty { state = .finished }  // trailer fields themselves are of no use here
        case .data, .finished:
            break
        }
    }

    /// The hex size before any `;extension`, with optional surrounding blanks.
    static func chunkSize(_ line: [UInt8]) throws(ClientError) -> Int {
        let digits = line.prefix { $0 != UInt8(ascii: ";") }.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
        // 15 hex digits keep the size inside Int; no sane chunk comes near.
        guard !digits.isEmpty, digits.count <= 15,
              let size = Int(String(decoding: digits, as: UTF8.self), radix: 16), size >= 0 else {
            throw .malformedResponse("chunked body: bad chunk size line \"\(String(decoding: line.prefix(40), as: UTF8.self))\"")
        }
        return size
    }
}

// Splits a byte stream, arriving in pieces, into LF-terminated lines (an NDJSON body: one event per line).
// Only new bytes are searched for the LF, so a multi-megabyte `image` line arriving in 64 KiB pieces
// costs linear time, not quadratic.

/// Collects bytes and hands out each complete line (without its LF, or CRLF) as soon as it is there.
public struct LineSplitter: Sendable {
    private var pending: [UInt8] = []
    /// Longest line accepted: a base64 image of the largest allowed render, with room to spare.
    public let maximumLineLength: Int

    public init(maximumLineLength: Int = 256 << 20) {
        self.maximumLineLength = maximumLineLength
    }

    /// Appends `bytes` and calls `onLine` for every line they complete, in order.
    public mutating func feed(_ bytes: ArraySlice<UInt8>, onLine: ([UInt8]) throws -> Void) throws {
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            pending.append(contentsOf: bytes[start..<newline])
            start = newline + 1
            if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
            let line = pending
            pending.removeAll(keepingCapacity: true)
            try onLine(line)
        }
        pending.append(contentsOf: bytes[start...])
        guard pending.count <= maximumLineLength else {
            throw ClientError.malformedResponse("a stream line is longer than \(maximumLineLength) bytes")
        }
    }

    /// At the end of the stream: the last line if it had no LF, else nil.
    public mutating func finish() -> [UInt8]? {
        defer { pending.removeAll() }
        if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
        return pending.isEmpty ? nil : pending
    }
}

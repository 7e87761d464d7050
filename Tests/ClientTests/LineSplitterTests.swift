// NDJSON line splitting from byte pieces cut anywhere — inside a line, between CR and LF, right after LF —
// and a multi-megabyte line (an image event) arriving in small pieces.
import Testing
@testable import RenderClient

@Suite struct LineSplitterTests {
    static let stream = Array("{\"event\":\"queued\",\"id\":\"a\"}\r\n{\"event\":\"started\",\"id\":\"a\"}\n\n{\"event\":\"done\"}".utf8)
    static let lines = ["{\"event\":\"queued\",\"id\":\"a\"}", "{\"event\":\"started\",\"id\":\"a\"}", "", "{\"event\":\"done\"}"]

    func split(_ pieces: [ArraySlice<UInt8>]) throws -> [String] {
        var splitter = LineSplitter()
        var lines: [String] = []
        for piece in pieces {
            try splitter.feed(piece) { lines.append(String(decoding: $0, as: UTF8.self)) }
        }
        if let last = splitter.finish() { lines.append(String(decoding: last, as: UTF8.self)) }
        return lines
    }

    @Test func everyThreePieceSplit() throws {
        let bytes = Self.stream
        for first in 0...bytes.count {
            for second in first...bytes.count {
                #expect(try split([bytes[..<first], bytes[first..<second], bytes[second...]]) == Self.lines,
                        "cuts at \(first), \(second)")
            }
        }
    }

    @Test func linesArriveAsSoonAsTheyAreComplete() throws {
        var splitter = LineSplitter()
        var seen: [String] = []
        try splitter.feed(Array("one\ntw".utf8)[...]) { seen.append(String(decoding: $0, as: UTF8.self)) }
        #expect(seen == ["one"])
        try splitter.feed(Array("o\n".utf8)[...]) { seen.append(String(decoding: $0, as: UTF8.self)) }
        #expect(seen == ["one", "two"])
        #expect(splitter.finish() == nil)
    }

    @Test func longLineInSmallPieces() throws {
        let long = [UInt8](repeating: UInt8(ascii: "A"), count: 3 << 20) + [UInt8(ascii: "\n")]
        var splitter = LineSplitter()
        var lengths: [Int] = []
        var offset = 0
        while offset < long.count {
            let end = min(long.count, offset + 4093)
            try splitter.feed(long[offset..<end]) { lengths.append($0.count) }
            offset = end
        }
        #expect(lengths == [3 << 20])
    }

    @Test func refusesEndlessLines() {
        var splitter = LineSplitter(maximumLineLength: 10)
        #expect(throws: ClientError.self) { try splitter.feed(Array("0123456789AB".utf8)[...]) { _ in } }
    }
}

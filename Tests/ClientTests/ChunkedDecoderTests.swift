// Chunked transfer decoding fed in pieces split at every awkward place: inside the size line, the data,
// the CRLF after the data, the last chunk and the trailers.
import Testing
@testable import RenderClient

@Suite struct ChunkedDecoderTests {
    /// RFC-style example with a chunk extension, a chunk holding CRLFs, and a trailer field.
    static let encoded = Array("4\r\nWiki\r\n6;name=value\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n".utf8)
    static let decoded = Array("Wikipedia in \r\n\r\nchunks.".utf8)

    func decode(_ pieces: [ArraySlice<UInt8>]) throws -> (payload: [UInt8], finished: Bool) {
        var decoder = ChunkedDecoder()
        var payload: [UInt8] = []
        for piece in pieces { try decoder.decode(piece, into: &payload) }
        return (payload, decoder.isFinished)
    }

    @Test func wholeBody() throws {
        let result = try decode([Self.encoded[...]])
        #expect(result.payload == Self.decoded)
        #expect(result.finished)
    }

    @Test func everyTwoPieceSplit() throws {
        for cut in 0...Self.encoded.count {
            let result = try decode([Self.encoded[..<cut], Self.encoded[cut...]])
            #expect(result.payload == Self.decoded, "cut at \(cut)")
            #expect(result.finished, "cut at \(cut)")
        }
    }

    @Test func everyThreePieceSplit() throws {
        for first in 0...Self.encoded.count {
            for second in first...Self.encoded.count {
                let result = try decode([Self.encoded[..<first], Self.encoded[first..<second], Self.encoded[second...]])
                #expect(result.payload == Self.decoded, "cuts at \(first), \(second)")
            }
        }
    }

    @Test func byteByByte() throws {
        let result = try decode(Self.encoded.indices.map { Self.encoded[$0...$0] })
        #expect(result.payload == Self.decoded)
        #expect(result.finished)
    }

    @Test func stopsAtTheEndOfTheBody() throws {
        var decoder = ChunkedDecoder()
        var payload: [UInt8] = []
        let used = try decoder.decode((Self.encoded + Array("HTTP/1.1 next".utf8))[...], into: &payload)
        #expect(used == Self.encoded.count)
        #expect(payload == Self.decoded)
    }

    @Test func toleratesBareLineFeeds() throws {
        #expect(try decode([Array("3\nabc\nA\n0123456789\n0\n\n".utf8)[...]]).payload == Array("abc0123456789".utf8))
    }

    @Test func upperCaseHexAndBlanks() throws {
        let body = Array(String(repeating: "x", count: 0x1F).utf8)
        #expect(try decode([(Array("1F \r\n".utf8) + body + Array("\r\n0\r\n\r\n".utf8))[...]]).payload == body)
    }

    @Test(arguments: ["zz\r\n", "\r\n", "-5\r\n", "1234567890123456\r\n", ";ext\r\n"])
    func rejectsBadSizeLines(_ line: String) {
        #expect(throws: ClientError.self) { try decode([Array(line.utf8)[...]]) }
    }

    @Test func rejectsDataLongerThanItsSize() {
        #expect(throws: ClientError.self) { try decode([Array("3\r\nabcd\r\n0\r\n\r\n".utf8)[...]]) }
    }

    @Test func rejectsEndlessSizeLine() {
        #expect(throws: ClientError.self) { try decode([Array(repeating: UInt8(ascii: "1"), count: 9000)[...]]) }
    }
}

// The PNG text chunks (tEXt, iTXt) that carry generation parameters, written and read by walking the chunk
// list ourselves. libpng's simplified API — the only part of libpng we can call safely from Swift, since
// its full API reports errors by longjmp — has no text support, and a PNG chunk is just
// length · type · data · CRC-32, so inserting one after IHDR and reading them back is plain byte work.
//
// What is written matches PIL's `PngInfo.add_text`, which A1111 uses: a tEXt chunk when the text is
// Latin-1, otherwise an uncompressed iTXt chunk (UTF-8, empty language tag and translated keyword).
// The chunk goes right after IHDR, before IDAT: PIL's `Image.open(f).info` only sees chunks before IDAT.

import Foundation

/// One PNG text chunk: keyword and text.
public struct PNGTextChunk: Sendable, Equatable {
    /// The keyword, 1–79 Latin-1 characters (A1111 uses "parameters").
    public var keyword: String
    /// The text.
    public var text: String

    /// A chunk `keyword` = `text`.
    public init(keyword: String, text: String) {
        self.keyword = keyword
        self.text = text
    }
}

enum PNGChunks {
    /// The 8-byte signature every PNG starts with.
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// One chunk as stored: big-endian data length, type, data, CRC-32 over type and data.
    static func encodeChunk(type: String, data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        precondition(typeBytes.count == 4)
        var out = [UInt8]()
        out.reserveCapacity(12 + data.count)
        out += bigEndianBytes(UInt32(data.count))
        out += typeBytes
        out += data
        out += bigEndianBytes(CRC32.checksum(data, continuing: CRC32.checksum(typeBytes)))
        return out
    }

    /// The tEXt (Latin-1 text) or iTXt (otherwise) chunk for `chunk`, as PIL's `add_text` chooses.
    static func encodeTextChunk(_ chunk: PNGTextChunk) -> [UInt8] {
        guard let keyword = latin1Bytes(chunk.keyword), (1...79).contains(keyword.count),
              !keyword.contains(0) else {
            preconditionFailure("PNG text keyword must be 1-79 Latin-1 characters: \(chunk.keyword)")
        }
        if let text = latin1Bytes(chunk.text) {
            return encodeChunk(type: "tEXt", data: keyword + [0] + text)
        }
        // keyword NUL, compression flag 0, method 0, language tag "" NUL, translated keyword "" NUL, UTF-8 text.
        return encodeChunk(type: "iTXt", data: keyword + [0, 0, 0, 0, 0] + Array(chunk.text.utf8))
    }

    /// `png` with `chunks` inserted right after the IHDR chunk (which always comes first).
    static func inserting(_ chunks: [PNGTextChunk], into png: Data) -> Data {
        // Signature (8) + IHDR length (4) + "IHDR" (4) + 13 data bytes + CRC (4).
        let afterIHDR = 33
        precondition(png.count > afterIHDR && png[png.startIndex + 12..<png.startIndex + 16].elementsEqual("IHDR".utf8))
        var out = Data(png.prefix(afterIHDR))
        for chunk in chunks { out.append(contentsOf: encodeTextChunk(chunk)) }
        out.append(png.dropFirst(afterIHDR))
        return out
    }

    /// The text chunks of `png`, in file order. Reading is forgiving, like libpng's default for ancillary
    /// chunks: a chunk with a bad CRC or malformed layout is skipped, and the walk stops at IEND or at the
    /// first chunk that runs past the end of the data. Compressed text (zTXt, iTXt with the compression
    /// flag) is skipped: it needs zlib, which the CImageCodecs shim does not expose, and neither A1111 nor
    /// PIL's `add_text` ever compress.
    static func textChunks(in png: Data) -> [PNGTextChunk] {
        let bytes = [UInt8](png)
        guard bytes.count >= 8, bytes.prefix(8).elementsEqual(signature) else { return [] }
        var chunks: [PNGTextChunk] = []
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = Int(readBigEndian(bytes, at: offset))
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            let dataStart = offset + 8
            guard length <= bytes.count - dataStart - 4 else { break }
            let data = bytes[dataStart..<dataStart + length]
            let storedCRC = readBigEndian(bytes, at: dataStart + length)
            if storedCRC == CRC32.checksum(data, continuing: CRC32.checksum(bytes[offset + 4..<offset + 8])) {
                if type == "tEXt", let chunk = decodeTEXt(data) { chunks.append(chunk) }
                if type == "iTXt", let chunk = decodeITXt(data) { chunks.append(chunk) }
            }
            if type == "IEND" { break }
            offset = dataStart + length + 4
        }
        return chunks
    }

    private static func decodeTEXt(_ data: ArraySlice<UInt8>) -> PNGTextChunk? {
        guard let nul = data.firstIndex(of: 0), nul > data.startIndex else { return nil }
        return PNGTextChunk(keyword: latin1String(data[..<nul]), text: latin1String(data[(nul + 1)...]))
    }

    private static func decodeITXt(_ data: ArraySlice<UInt8>) -> PNGTextChunk? {
        guard let keywordEnd = data.firstIndex(of: 0), keywordEnd > data.startIndex,
              keywordEnd + 2 < data.endIndex, data[keywordEnd + 1] == 0,  // compressed text is not read
              let languageEnd = data[(keywordEnd + 3)...].firstIndex(of: 0),
              let translatedEnd = data[(languageEnd + 1)...].firstIndex(of: 0) else { return nil }
        guard let text = String(validating: data[(translatedEnd + 1)...], as: UTF8.self) else { return nil }
        return PNGTextChunk(keyword: latin1String(data[..<keywordEnd]), text: text)
    }

    private static func latin1Bytes(_ string: String) -> [UInt8]? {
        var out = [UInt8]()
        for scalar in string.unicodeScalars {
            guard scalar.value < 256 else { return nil }
            out.append(UInt8(scalar.value))
        }
        return out
    }

    private static func latin1String(_ bytes: ArraySlice<UInt8>) -> String {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }

    private static func bigEndianBytes(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    private static func readBigEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }
}

// The EXIF block that carries A1111's infotext in JPEG and WebP files: a TIFF structure whose Exif IFD
// holds one UserComment (tag 0x9286). A1111 writes it with piexif as
// `piexif.dump({"Exif": {UserComment: piexif.helper.UserComment.dump(text, encoding="unicode")}})`:
// big-endian TIFF ("MM"), and a UserComment of the 8-byte character-code prefix "UNICODE\0" followed by
// UTF-16BE text. We write the same structure (plus the next-IFD offset after the Exif IFD, which the TIFF
// spec requires and piexif leaves out), and read either byte order and the other character codes too.

import Foundation

enum EXIFUserComment {
    private static let exifIFDPointerTag: UInt16 = 0x8769
    private static let userCommentTag: UInt16 = 0x9286
    private static let unicodePrefix: [UInt8] = Array("UNICODE".utf8) + [0]
    private static let asciiPrefix: [UInt8] = Array("ASCII".utf8) + [0, 0, 0]
    private static let jisPrefix: [UInt8] = Array("JIS".utf8) + [0, 0, 0, 0, 0]

    /// A TIFF block (no "Exif\0\0" header — the WebP EXIF chunk holds bare TIFF, which is what piexif
    /// inserts) whose only content is the Exif IFD's UserComment = `text` in UTF-16BE.
    static func tiff(userComment text: String) -> [UInt8] {
        let comment = unicodePrefix + text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        var out: [UInt8] = [0x4D, 0x4D, 0x00, 0x2A] + be32(8)  // "MM", 42, IFD0 at offset 8
        // IFD0: one entry, the pointer to the Exif IFD (LONG). 8 + 2 + 12 + 4 = 26.
        out += be16(1) + be16(exifIFDPointerTag) + be16(4) + be32(1) + be32(26) + be32(0)
        // Exif IFD: one entry, UserComment (UNDEFINED, count bytes, stored at 26 + 2 + 12 + 4 = 44).
        out += be16(1) + be16(userCommentTag) + be16(7) + be32(UInt32(comment.count)) + be32(44) + be32(0)
        return out + comment
    }

    /// The UserComment text of an EXIF block (bare TIFF, or with the "Exif\0\0" header of a JPEG APP1
    /// segment), or nil if there is none. Every offset is bounds-checked: this reads untrusted uploads.
    static func userComment(inEXIF block: Data) -> String? {
        var bytes = [UInt8](block)
        if bytes.starts(with: Array("Exif".utf8) + [0, 0]) { bytes.removeFirst(6) }
        guard let reader = TIFFReader(tiff: bytes), let ifd0 = reader.firstIFD,
              let exifEntry = reader.entry(tag: exifIFDPointerTag, inIFDAt: Int(ifd0)),
              let exifIFD = reader.u32(exifEntry + 8),
              let commentEntry = reader.entry(tag: userCommentTag, inIFDAt: Int(exifIFD)),
              let count = reader.u32(commentEntry + 4).map(Int.init) else { return nil }
        // Values of up to 4 bytes sit in the entry itself; longer ones at the offset it holds.
        let start = count <= 4 ? commentEntry + 8 : reader.u32(commentEntry + 8).map(Int.init) ?? -1
        guard start >= 0, count <= bytes.count, start <= bytes.count - count else { return nil }
        return decodeComment(Array(bytes[start..<start + count]), tiffBigEndian: reader.bigEndian)
    }

    /// The comment body after its 8-byte character code. "UNICODE" is UTF-16 whose byte order writers
    /// disagree on: EXIF says the TIFF's, piexif (so A1111) always writes big-endian, even into a
    /// little-endian TIFF made by another tool. A byte-order mark decides if present; otherwise the text's
    /// own zero bytes (infotexts are mostly ASCII); otherwise the TIFF's order. Trailing NULs are dropped.
    private static func decodeComment(_ data: [UInt8], tiffBigEndian: Bool) -> String? {
        guard data.count >= 8 else { return nil }
        let prefix = Array(data.prefix(8))
        var body = Array(data.dropFirst(8))
        let text: String?
        if prefix == unicodePrefix {
            if body.count % 2 == 1 { body.removeLast() }
            let bigEndian: Bool
            if body.count >= 2, (body[0], body[1]) == (0xFE, 0xFF) { bigEndian = true; body.removeFirst(2) }
            else if body.count >= 2, (body[0], body[1]) == (0xFF, 0xFE) { bigEndian = false; body.removeFirst(2) }
            else { bigEndian = guessUTF16BigEndian(body) ?? tiffBigEndian }
            let units = stride(from: 0, to: body.count, by: 2).map { (i: Int) -> UInt16 in
                let (first, second) = (UInt16(body[i]), UInt16(body[i + 1]))
                return bigEndian ? first << 8 | second : second << 8 | first
            }
            text = String(decoding: units, as: UTF16.self)
        } else if prefix == jisPrefix {
            text = String(data: Data(body), encoding: .shiftJIS)
        } else if prefix == asciiPrefix || prefix == [UInt8](repeating: 0, count: 8) {
            text = String(decoding: body, as: UTF8.self)
        } else {
            // No recognised code: A1111 then decodes the whole value as UTF-8, ignoring errors.
            text = String(decoding: data, as: UTF8.self)
        }
        guard var text else { return nil }
        while text.unicodeScalars.last == "\0" { text.unicodeScalars.removeLast() }
        return text.isEmpty ? nil : text
    }

    /// True for big-endian, false for little-endian, nil when undecided: ASCII-range characters have their
    /// zero byte first in big-endian UTF-16 and second in little-endian.
    private static func guessUTF16BigEndian(_ body: [UInt8]) -> Bool? {
        var zerosFirst = 0, zerosSecond = 0
        for i in stride(from: 0, to: body.count - 1, by: 2) {
            if body[i] == 0 && body[i + 1] != 0 { zerosFirst += 1 }
            if body[i] != 0 && body[i + 1] == 0 { zerosSecond += 1 }
        }
        if zerosFirst == zerosSecond { return nil }
        return zerosFirst > zerosSecond
    }

    private static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    private static func be32(_ v: UInt32) -> [UInt8] { be16(UInt16(v >> 16)) + be16(UInt16(v & 0xFFFF)) }
}
// Bounds-checked reads from the TIFF structure inside EXIF blocks (JPEG APP1, WebP EXIF chunks),
// shared by the UserComment reader (A1111's parameters) and the orientation reader. EXIF comes
// from untrusted uploads: every offset is checked before a byte is read.
struct TIFFReader {
    let bytes: [UInt8]
    let bigEndian: Bool

    /// A reader over a bare TIFF block: byte order "II" or "MM", then the magic number 42.
    init?(tiff bytes: [UInt8]) {
        guard bytes.count >= 8 else { return nil }
        switch (bytes[0], bytes[1]) {
        case (0x4D, 0x4D): bigEndian = true
        case (0x49, 0x49): bigEndian = false
        default: return nil
        }
        self.bytes = bytes
        guard u16(2) == 42 else { return nil }
    }

    /// The offset of the first image file directory.
    var firstIFD: UInt32? { u32(4) }

    func u16(_ offset: Int) -> UInt16? {
        guard offset >= 0, offset <= bytes.count - 2 else { return nil }
        let (a, b) = (UInt16(bytes[offset]), UInt16(bytes[offset + 1]))
        return bigEndian ? a << 8 | b : b << 8 | a
    }

    func u32(_ offset: Int) -> UInt32? {
        guard let first = u16(offset), let second = u16(offset + 2) else { return nil }
        return bigEndian ? UInt32(first) << 16 | UInt32(second) : UInt32(second) << 16 | UInt32(first)
    }

    /// The offset of the 12-byte entry with `tag` in the IFD at `offset`.
    func entry(tag: UInt16, inIFDAt offset: Int) -> Int? {
        guard let count = u16(offset) else { return nil }
        for index in 0..<Int(count) {
            let entry = offset + 2 + index * 12
            guard let entryTag = u16(entry) else { return nil }
            if entryTag == tag { return entry }
        }
        return nil
    }
}

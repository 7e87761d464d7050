// CRC-32 (ISO 3309 / ITU-T V.42, the one PNG chunks carry). zlib has it, but zlib's header is not part of
// the CImageCodecs shim and the table is a few lines, so we keep our own.

/// The CRC-32 of PNG chunks: reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The CRC of `bytes`, continuing from `crc` (the CRC of the bytes before them; 0 to start).
    static func checksum<Bytes: Sequence<UInt8>>(_ bytes: Bytes, continuing crc: UInt32 = 0) -> UInt32 {
        var c = ~crc
        for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }
}

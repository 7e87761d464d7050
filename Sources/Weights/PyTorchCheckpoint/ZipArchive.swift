// The zip container of a PyTorch checkpoint: the central directory (ZIP64 included), read from a
// mapping, giving each entry's byte range in the file. Follows PKWARE's APPNOTE.TXT (4.3.7 local
// header, 4.3.12 central header, 4.3.14–16 ZIP64 end records, 4.5.3 ZIP64 extra field).
//
// torch.save (PyTorchStreamWriter, built on miniz) writes every entry "stored" (uncompressed), pads
// each local header's extra field so that data starts on a 64-byte boundary, puts sizes and CRC in a
// data descriptor after the data (the local header's are zero), and always appends the ZIP64 end
// records. So sizes come from the central directory only, and entries can be served straight from
// the mapping. Compressed or encrypted entries are refused rather than inflated: torch never writes
// them, and a checkpoint that has them was repacked by another tool.

/// A zip file's directory: where each stored entry's bytes are in the file.
struct ZipArchive {
    /// One entry of the central directory.
    struct Entry {
        /// The name as stored (torch: `<archive>/data.pkl`, `<archive>/data/<key>`, …).
        let name: String
        /// The entry's bytes, as offsets into the whole file.
        let dataRange: Range<Int>
    }

    /// Entries in central-directory order.
    let entries: [Entry]
    private let indexByName: [String: Int]

    /// The entry called `name`.
    subscript(name: String) -> Entry? { indexByName[name].map { entries[$0] } }

    // Signatures and fixed sizes (APPNOTE 4.3).
    private static let localHeaderSignature: UInt32 = 0x0403_4B50
    private static let centralHeaderSignature: UInt32 = 0x0201_4B50
    private static let endSignature: UInt32 = 0x0605_4B50
    private static let zip64EndSignature: UInt32 = 0x0606_4B50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    private static let localHeaderSize = 30
    private static let centralHeaderSize = 46
    private static let endSize = 22
    private static let zip64LocatorSize = 20
    private static let zip64EndSize = 56
    private static let maxCommentLength = 0xFFFF

    /// Reads the directory of the zip file `bytes`; `fileName` is used in errors.
    init(bytes: UnsafeRawBufferPointer, fileName: String) throws(WeightsError) {
        func corrupt(_ reason: String) -> WeightsError { .corruptArchive(file: fileName, reason: reason) }

        let directory = try Self.locateCentralDirectory(bytes, corrupt: corrupt)
        // Each header is at least 46 bytes, so a count the directory cannot hold is a lie; checking
        // it first keeps a forged count from reserving memory.
        guard directory.entryCount <= directory.range.count / Self.centralHeaderSize else {
            throw corrupt("\(directory.entryCount) entries cannot fit in a \(directory.range.count)-byte central directory")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(directory.entryCount)
        var indexByName: [String: Int] = [:]
        var cursor = directory.range.lowerBound
        for _ in 0..<directory.entryCount {
            let (entry, next) = try Self.readCentralHeader(at: cursor, in: bytes, directoryEnd: directory.range.upperBound,
                                                           fileName: fileName, corrupt: corrupt)
            // Two entries of one name would let the directory and a naive reader disagree on the data.
            guard indexByName.updateValue(entries.count, forKey: entry.name) == nil else {
                throw corrupt("entry '\(entry.name)' appears twice")
            }
            entries.append(entry)
            cursor = next
        }
        self.entries = entries
        self.indexByName = indexByName
    }

    // MARK: End of central directory

    private struct CentralDirectory {
        var range: Range<Int>
        var entryCount: Int
    }

    /// Finds the end-of-central-directory record (searching back over a possible comment), and its
    /// ZIP64 counterpart when a locator precedes it.
    private static func locateCentralDirectory(
        _ bytes: UnsafeRawBufferPointer, corrupt: (String) -> WeightsError
    ) throws(WeightsError) -> CentralDirectory {
        guard bytes.count >= endSize else { throw corrupt("\(bytes.count) bytes is too small for a zip file") }
        var end: Int?
        var candidate = bytes.count - endSize
        let lowest = max(0, bytes.count - endSize - maxCommentLength)
        while candidate >= lowest {
            // The record's comment must end exactly at the end of the file; a signature inside
            // some entry's data that happens to lie in the searched tail does not satisfy that.
            if bytes.littleEndian(UInt32.self, at: candidate) == endSignature,
               let comment = bytes.littleEndian(UInt16.self, at: candidate + 20),
               candidate + endSize + Int(comment) == bytes.count {
                end = candidate
                break
            }
            candidate -= 1
        }
        guard let end else { throw corrupt("no end-of-central-directory record (not a zip file, or truncated)") }

        let disk = Int(bytes.littleEndian(UInt16.self, at: end + 4)!)
        let directoryDisk = Int(bytes.littleEndian(UInt16.self, at: end + 6)!)
        var count = Int(bytes.littleEndian(UInt16.self, at: end + 10)!)
        var size = Int(bytes.littleEndian(UInt32.self, at: end + 12)!)
        var offset = Int(bytes.littleEndian(UInt32.self, at: end + 16)!)
        guard disk == 0, directoryDisk == 0 else { throw corrupt("multi-disk archives are not supported") }

        let locator = end - zip64LocatorSize
        if locator >= 0, bytes.littleEndian(UInt32.self, at: locator) == zip64LocatorSignature {
            let recordOffset = bytes.littleEndian(UInt64.self, at: locator + 8)!
            guard locator >= zip64EndSize, recordOffset <= UInt64(locator - zip64EndSize),
                  bytes.littleEndian(UInt32.self, at: Int(recordOffset)) == zip64EndSignature else {
                throw corrupt("the ZIP64 locator points to no ZIP64 end record")
            }
            let record = Int(recordOffset)
            guard bytes.littleEndian(UInt32.self, at: record + 16) == 0,
                  bytes.littleEndian(UInt32.self, at: record + 20) == 0 else {
                throw corrupt("multi-disk archives are not supported")
            }
            // 64-bit fields beyond Int.max cannot describe a file we could map.
            guard let count64 = Int(exactly: bytes.littleEndian(UInt64.self, at: record + 32)!),
                  let size64 = Int(exactly: bytes.littleEndian(UInt64.self, at: record + 40)!),
                  let offset64 = Int(exactly: bytes.littleEndian(UInt64.self, at: record + 48)!) else {
                throw corrupt("ZIP64 end record holds impossible sizes")
            }
            (count, size, offset) = (count64, size64, offset64)
        }
        guard let directoryEnd = checkedSum(offset, size), directoryEnd <= bytes.count else {
            throw corrupt("central directory (offset \(offset), \(size) bytes) lies outside the \(bytes.count)-byte file")
        }
        return CentralDirectory(range: offset..<directoryEnd, entryCount: count)
    }

    // MARK: Entries

    /// Reads the central header at `offset` and the local header it points to; returns the entry and
    /// the offset of the next central header.
    private static func readCentralHeader(
        at offset: Int, in bytes: UnsafeRawBufferPointer, directoryEnd: Int, fileName: String,
        corrupt: (String) -> WeightsError
    ) throws(WeightsError) -> (Entry, next: Int) {
        guard offset + centralHeaderSize <= directoryEnd,
              bytes.littleEndian(UInt32.self, at: offset) == centralHeaderSignature else {
            throw corrupt("central directory entry at byte \(offset) is missing or truncated")
        }
        let flags = bytes.littleEndian(UInt16.self, at: offset + 8)!
        let method = bytes.littleEndian(UInt16.self, at: offset + 10)!
        var compressedSize = UInt64(bytes.littleEndian(UInt32.self, at: offset + 20)!)
        var size = UInt64(bytes.littleEndian(UInt32.self, at: offset + 24)!)
        let nameLength = Int(bytes.littleEndian(UInt16.self, at: offset + 28)!)
        let extraLength = Int(bytes.littleEndian(UInt16.self, at: offset + 30)!)
        let commentLength = Int(bytes.littleEndian(UInt16.self, at: offset + 32)!)
        let diskStart = bytes.littleEndian(UInt16.self, at: offset + 34)!
        var localOffset = UInt64(bytes.littleEndian(UInt32.self, at: offset + 42)!)

        let nameStart = offset + centralHeaderSize
        let next = nameStart + nameLength + extraLength + commentLength
        guard next <= directoryEnd else { throw corrupt("central directory entry at byte \(offset) runs past the directory") }
        let nameBytes = bytes.slice(nameStart..<nameStart + nameLength)!
        let name = String(decoding: nameBytes, as: UTF8.self)
        guard diskStart == 0 || diskStart == 0xFFFF else { throw corrupt("entry '\(name)' is on another disk") }

        // ZIP64 extra field: 64-bit values for exactly those fields whose 32-bit value is saturated,
        // in the order uncompressed size, compressed size, local header offset.
        let saturated = UInt64(UInt32.max)
        if size == saturated || compressedSize == saturated || localOffset == saturated {
            let extra = bytes.slice(nameStart + nameLength..<nameStart + nameLength + extraLength)!
            guard var field = zip64Field(in: extra) else { throw corrupt("entry '\(name)' lacks its ZIP64 extra field") }
            func next64() throws(WeightsError) -> UInt64 {
                guard let value = field.littleEndian(UInt64.self, at: 0) else {
                    throw corrupt("entry '\(name)': ZIP64 extra field is too short")
                }
                field = UnsafeRawBufferPointer(rebasing: field[8...])
                return value
            }
            if size == saturated { size = try next64() }
            if compressedSize == saturated { compressedSize = try next64() }
            if localOffset == saturated { localOffset = try next64() }
        }

        if flags & 0x1 != 0 {
            throw .unsupportedArchiveEntry(file: fileName, entry: name, reason: "it is encrypted")
        }
        if method != 0 {
            throw .unsupportedArchiveEntry(
                file: fileName, entry: name,
                reason: "it is compressed (method \(method)); torch.save writes uncompressed entries — re-save the checkpoint with torch.save")
        }
        guard compressedSize == size else {
            throw corrupt("stored entry '\(name)' declares \(compressedSize) stored bytes but \(size) bytes of data")
        }

        // The local header's own name and extra lengths decide where the data starts (torch pads
        // the local extra field only, so the central one cannot be used).
        guard let local = Int(exactly: localOffset), local <= bytes.count - localHeaderSize,
              let length = Int(exactly: size),
              bytes.littleEndian(UInt32.self, at: local) == localHeaderSignature,
              let localNameLength = bytes.littleEndian(UInt16.self, at: local + 26),
              let localExtraLength = bytes.littleEndian(UInt16.self, at: local + 28) else {
            throw corrupt("entry '\(name)': no local header at byte \(localOffset)")
        }
        let localName = local + localHeaderSize
        guard let localNameBytes = bytes.slice(localName..<localName + Int(localNameLength)),
              localNameBytes.elementsEqual(nameBytes) else {
            throw corrupt("entry '\(name)': the local header names another entry")
        }
        let dataStart = localName + Int(localNameLength) + Int(localExtraLength)
        guard let dataEnd = checkedSum(dataStart, length), dataEnd <= bytes.count else {
            throw corrupt("entry '\(name)': its \(size) bytes at byte \(dataStart) run past the end of the \(bytes.count)-byte file")
        }
        return (Entry(name: name, dataRange: dataStart..<dataEnd), next)
    }

    /// The data of the ZIP64 extended-information field (header ID 0x0001) in an extra block.
    private static func zip64Field(in extra: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var cursor = 0
        while let id = extra.littleEndian(UInt16.self, at: cursor),
              let length = extra.littleEndian(UInt16.self, at: cursor + 2) {
            guard let data = extra.slice(cursor + 4..<cursor + 4 + Int(length)) else { return nil }
            if id == 0x0001 { return data }
            cursor += 4 + Int(length)
        }
        return nil
    }
}

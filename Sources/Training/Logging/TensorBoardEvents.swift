// TensorBoard event files, written without TensorFlow or a protobuf library: a file is a sequence of
// TFRecords (length, masked CRC-32C of the length, the bytes, their masked CRC-32C), each holding one
// `tensorboard.Event` protobuf. We write the three kinds a scalar log needs — the file-version header
// event, events with a `Summary` of `simple_value` scalars, and images (PNG) — encoded field by field as proto3 does
// (ascending field numbers, default values left out), so that a file is byte-for-byte what PyTorch's
// `SummaryWriter.add_scalar` writes for the same values. The reader exists for tests and for resuming.
import Foundation

/// An image summary: PNG bytes and their size (TensorBoard's `Summary.Image`).
public struct TensorBoardImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var png: [UInt8]
    public init(width: Int, height: Int, png: [UInt8]) { self.width = width; self.height = height; self.png = png }
}

/// One event: a wall-clock time, a step, and either the file version, scalar values or images.
public struct TensorBoardEvent: Equatable, Sendable {
    public var wallTime: Double
    public var step: Int64
    public var fileVersion: String?
    /// The writer that made the file (`source_metadata.writer`), on the header event.
    public var writer: String?
    public var scalars: [(tag: String, value: Float)]
    public var images: [(tag: String, image: TensorBoardImage)]

    public init(wallTime: Double, step: Int64 = 0, fileVersion: String? = nil, writer: String? = nil,
                scalars: [(tag: String, value: Float)] = [], images: [(tag: String, image: TensorBoardImage)] = []) {
        self.wallTime = wallTime; self.step = step; self.fileVersion = fileVersion; self.writer = writer
        self.scalars = scalars
        self.images = images
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.wallTime == b.wallTime && a.step == b.step && a.fileVersion == b.fileVersion && a.writer == b.writer
            && a.scalars.map(\.tag) == b.scalars.map(\.tag) && a.scalars.map(\.value) == b.scalars.map(\.value)
            && a.images.map(\.tag) == b.images.map(\.tag) && a.images.map(\.image) == b.images.map(\.image)
    }

    // Field numbers of tensorboard/compat/proto/event.proto and summary.proto.
    private enum Field {
        static let wallTime = 1, step = 2, fileVersion = 3, summary = 5, sourceMetadata = 10
        static let summaryValue = 1, valueTag = 1, valueSimple = 2, valueImage = 4, metadataWriter = 1
        static let imageHeight = 1, imageWidth = 2, imageColorspace = 3, imageEncoded = 4
    }

    /// The protobuf encoding.
    var encoded: [UInt8] {
        var event = ProtobufWriter()
        if wallTime != 0 { event.double(Field.wallTime, wallTime) }
        if step != 0 { event.varint(Field.step, UInt64(bitPattern: step)) }
        if let fileVersion { event.bytes(Field.fileVersion, Array(fileVersion.utf8)) }
        if !scalars.isEmpty || !images.isEmpty {
            var summary = ProtobufWriter()
            for (tag, value) in scalars {
                var entry = ProtobufWriter()
                entry.bytes(Field.valueTag, Array(tag.utf8))
                entry.float(Field.valueSimple, value)
                summary.bytes(Field.summaryValue, entry.output)
            }
            for (tag, image) in images {
                var picture = ProtobufWriter()
                picture.varint(Field.imageHeight, UInt64(image.height))
                picture.varint(Field.imageWidth, UInt64(image.width))
                picture.varint(Field.imageColorspace, 3)  // RGB
                picture.bytes(Field.imageEncoded, image.png)
                var entry = ProtobufWriter()
                entry.bytes(Field.valueTag, Array(tag.utf8))
                entry.bytes(Field.valueImage, picture.output)
                summary.bytes(Field.summaryValue, entry.output)
            }
            event.bytes(Field.summary, summary.output)
        }
        if let writer {
            var metadata = ProtobufWriter()
            metadata.bytes(Field.metadataWriter, Array(writer.utf8))
            event.bytes(Field.sourceMetadata, metadata.output)
        }
        return event.output
    }

    /// Decodes the fields this type knows; other fields are skipped, as protobuf readers do.
    init(decoding bytes: [UInt8]) throws(TensorBoardFileError) {
        self.init(wallTime: 0)
        var reader = ProtobufReader(bytes)
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (Field.wallTime, .fixed64(let bits)): wallTime = Double(bitPattern: bits)
            case (Field.step, .varint(let v)): step = Int64(bitPattern: v)
            case (Field.fileVersion, .bytes(let b)): fileVersion = String(decoding: b, as: UTF8.self)
            case (Field.sourceMetadata, .bytes(let b)):
                var metadata = ProtobufReader(b)
                while let (f, v) = try metadata.next() {
                    if f == Field.metadataWriter, case .bytes(let w) = v { writer = String(decoding: w, as: UTF8.self) }
                }
            case (Field.summary, .bytes(let b)):
                var summary = ProtobufReader(b)
                while let (f, v) = try summary.next() {
                    guard f == Field.summaryValue, case .bytes(let entryBytes) = v else { continue }
                    var entry = ProtobufReader(entryBytes)
                    var tag = "", simple: Float?, image: TensorBoardImage?
                    while let (ef, ev) = try entry.next() {
                        if ef == Field.valueTag, case .bytes(let t) = ev { tag = String(decoding: t, as: UTF8.self) }
                        if ef == Field.valueSimple, case .fixed32(let bits) = ev { simple = Float(bitPattern: bits) }
                        if ef == Field.valueImage, case .bytes(let b) = ev { image = try Self.decodeImage(b) }
                    }
                    if let simple { scalars.append((tag, simple)) }
                    if let image { images.append((tag, image)) }
                }
            default: continue
            }
        }
    }
}

extension TensorBoardEvent {
    static func decodeImage(_ bytes: [UInt8]) throws(TensorBoardFileError) -> TensorBoardImage {
        var reader = ProtobufReader(bytes)
        var image = TensorBoardImage(width: 0, height: 0, png: [])
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (Field.imageHeight, .varint(let v)): image.height = Int(truncatingIfNeeded: v)
            case (Field.imageWidth, .varint(let v)): image.width = Int(truncatingIfNeeded: v)
            case (Field.imageEncoded, .bytes(let b)): image.png = b
            default: continue
            }
        }
        return image
    }
}

/// A malformed event file.
public enum TensorBoardFileError: Error, Equatable, CustomStringConvertible {
    case truncated(offset: Int)
    case badChecksum(offset: Int)
    case malformedEvent(reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .truncated(let offset): "event file ends inside the record at byte \(offset)"
        case .badChecksum(let offset): "event file record at byte \(offset) fails its CRC-32C check"
        case .malformedEvent(let reason): "malformed event: \(reason)"
        case .unwritable(let path, let reason): "cannot write \(path): \(reason)"
        }
    }
}

/// TFRecord framing.
enum TFRecord {
    static func frame(_ data: [UInt8]) -> [UInt8] {
        var length = withUnsafeBytes(of: UInt64(data.count).littleEndian, Array.init)
        let lengthCRC = CRC32C.masked(length)
        length += withUnsafeBytes(of: lengthCRC.littleEndian, Array.init)
        return length + data + withUnsafeBytes(of: CRC32C.masked(data).littleEndian, Array.init)
    }

    /// Splits a file into record payloads, checking both CRCs of each.
    static func records(_ bytes: [UInt8]) throws(TensorBoardFileError) -> [[UInt8]] {
        func word<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
            bytes[offset..<offset + MemoryLayout<T>.size].reversed().reduce(T(0)) { $0 << 8 | T($1) }
        }
        var records: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 12 else { throw .truncated(offset: offset) }
            let length = word(UInt64.self, at: offset)
            guard CRC32C.masked(bytes[offset..<offset + 8]) == word(UInt32.self, at: offset + 8) else {
                throw .badChecksum(offset: offset)
            }
            guard length <= UInt64(bytes.count - offset - 16) else { throw .truncated(offset: offset) }
            let start = offset + 12, end = start + Int(length)
            guard CRC32C.masked(bytes[start..<end]) == word(UInt32.self, at: end) else { throw .badChecksum(offset: offset) }
            records.append(Array(bytes[start..<end]))
            offset = end + 4
        }
        return records
    }
}

/// Reads every event of an event file.
public func readTensorBoardEvents(_ url: URL) throws -> [TensorBoardEvent] {
    let bytes = [UInt8](try Data(contentsOf: url))
    return try TFRecord.records(bytes).map { record throws(TensorBoardFileError) in try TensorBoardEvent(decoding: record) }
}

// MARK: Protobuf wire format (the four wire types an Event uses)

struct ProtobufWriter {
    private(set) var output: [UInt8] = []

    private mutating func key(_ field: Int, _ wireType: UInt64) { appendVarint(UInt64(field) << 3 | wireType) }
    private mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { output.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        output.append(UInt8(v))
    }
    mutating func varint(_ field: Int, _ value: UInt64) { key(field, 0); appendVarint(value) }
    mutating func double(_ field: Int, _ value: Double) {
        key(field, 1); withUnsafeBytes(of: value.bitPattern.littleEndian) { output += $0 }
    }
    mutating func bytes(_ field: Int, _ value: [UInt8]) { key(field, 2); appendVarint(UInt64(value.count)); output += value }
    mutating func float(_ field: Int, _ value: Float) {
        key(field, 5); withUnsafeBytes(of: value.bitPattern.littleEndian) { output += $0 }
    }
}

struct ProtobufReader {
    enum Value { case varint(UInt64), fixed64(UInt64), bytes([UInt8]), fixed32(UInt32) }
    private let data: [UInt8]
    private var offset = 0
    init(_ data: [UInt8]) { self.data = data }

    private mutating func readVarint() throws(TensorBoardFileError) -> UInt64 {
        var result: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard offset < data.count else { throw .malformedEvent(reason: "varint runs past the end") }
            let byte = data[offset]; offset += 1
            result |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return result }
        }
        throw .malformedEvent(reason: "varint longer than 10 bytes")
    }
    private mutating func take(_ count: Int) throws(TensorBoardFileError) -> [UInt8] {
        guard count >= 0, data.count - offset >= count else { throw .malformedEvent(reason: "field runs past the end") }
        defer { offset += count }
        return Array(data[offset..<offset + count])
    }
    private func littleEndian(_ bytes: [UInt8]) -> UInt64 { bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) } }

    /// The next field, or nil at the end.
    mutating func next() throws(TensorBoardFileError) -> (Int, Value)? {
        guard offset < data.count else { return nil }
        let key = try readVarint()
        let field = Int(truncatingIfNeeded: key >> 3)
        switch key & 7 {
        case 0: return (field, .varint(try readVarint()))
        case 1: return (field, .fixed64(littleEndian(try take(8))))
        case 2:
            let length = try readVarint()
            guard length <= UInt64(data.count) else { throw .malformedEvent(reason: "length \(length) past the end") }
            return (field, .bytes(try take(Int(length))))
        case 5: return (field, .fixed32(UInt32(littleEndian(try take(4)))))
        default: throw .malformedEvent(reason: "wire type \(key & 7)")
        }
    }
}

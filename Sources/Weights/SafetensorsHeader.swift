// The safetensors header: parsing and validation of untrusted bytes. The file layout is
//   8 bytes   N, little-endian u64
//   N bytes   UTF-8 JSON object: {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets"}, …}
//   the rest  the data section; data_offsets are relative to its start.
// Every rule the reference Rust crate (huggingface/safetensors, `SafeTensors::read_metadata` and
// `Metadata::validate`) enforces is enforced here, each with its own error, before any tensor byte
// is read. Nothing in this file touches the data section.
import Foundation

/// One tensor's header entry, validated: its byte range lies inside the data section and holds
/// exactly `dtype.byteSize × shape` bytes.
public struct SafetensorsEntry: Sendable, Equatable {
    /// The tensor's name (its key in the header).
    public let name: String
    /// Element type as stored.
    public let dtype: SafetensorsDType
    /// Sizes, outermost first; may be empty (a scalar) or contain zeros.
    public let shape: [Int]
    /// Byte range inside the data section (which starts after the header).
    public let dataOffsets: Range<Int>

    /// Number of elements (product of `shape`; cannot overflow once validated).
    public var elementCount: Int { shape.reduce(1, *) }
    /// Number of bytes in the file.
    public var byteCount: Int { dataOffsets.count }
}

/// A parsed and validated safetensors header.
public struct SafetensorsHeader: Sendable {
    /// The largest header accepted: 100 MB, the reference crate's `MAX_HEADER_SIZE`. A header
    /// length is untrusted and would otherwise size an allocation.
    public static let maximumHeaderLength = 100_000_000

    /// Deepest JSON nesting accepted. A valid header needs 3 (object → entry → shape array);
    /// the slack admits unknown entry fields, which the reference ignores, while refusing the
    /// pathological nesting that makes a recursive parser exhaust its stack.
    static let maximumNestingDepth = 64

    /// Length of the JSON text in bytes (the value of the 8-byte prefix).
    public let headerLength: Int
    /// Offset of the data section from the start of the file.
    public var dataSectionOffset: Int { 8 + headerLength }
    /// Size of the data section in bytes: everything after the header.
    public let dataSectionSize: Int
    /// The tensors, by name.
    public let entries: [String: SafetensorsEntry]
    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]

    /// Parses and validates the header of a whole safetensors file held in `file`.
    ///
    /// Only the first `8 + N` bytes are read; the rest is measured, never read. `fileName` names
    /// the file in errors.
    public init(parsing file: UnsafeRawBufferPointer, fileName: String) throws(WeightsError) {
        guard file.count >= 8 else { throw .fileTooSmall(file: fileName, size: file.count) }
        let declared = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(Self.maximumHeaderLength) else {
            throw .headerTooLarge(file: fileName, length: declared, limit: Self.maximumHeaderLength)
        }
        guard declared <= UInt64(file.count - 8) else {
            throw .headerPastEndOfFile(file: fileName, headerLength: declared, fileSize: file.count)
        }
        headerLength = Int(declared)
        dataSectionSize = file.count - 8 - headerLength

        let text = UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerLength)])
        let root = try Self.parseJSONObject(text, fileName: fileName)

        var entries: [String: SafetensorsEntry] = [:]
        var metadata: [String: String] = [:]
        // Sorted so that a file with several problems always reports the same one.
        for key in root.keys.sorted() {
            let value = root[key]!
            if key == "__metadata__" {
                metadata = try Self.metadata(from: value, fileName: fileName)
            } else {
                entries[key] = try Self.entry(
                    named: key, from: value, dataSectionSize: dataSectionSize, fileName: fileName)
            }
        }
        try Self.checkLayout(Array(entries.values), dataSectionSize: dataSectionSize, fileName: fileName)
        self.entries = entries
        self.metadata = metadata
    }

    /// Parses and validates the header of a whole safetensors file held in `data`.
    public init(parsing data: Data, fileName: String) throws(WeightsError) {
        let result: Result<SafetensorsHeader, WeightsError> = data.withUnsafeBytes { bytes in
            Result { () throws(WeightsError) in try SafetensorsHeader(parsing: bytes, fileName: fileName) }
        }
        self = try result.get()
    }

    // MARK: JSON

    /// The header text as a JSON object, after the checks Foundation's parser does not make.
    private static func parseJSONObject(
        _ text: UnsafeRawBufferPointer, fileName: String
    ) throws(WeightsError) -> [String: Any] {
        guard isValidUTF8(text) else { throw .headerNotUTF8(file: fileName) }
        let structure = JSONStructureScan(text, depthLimit: maximumNestingDepth)
        guard structure.maximumDepth <= maximumNestingDepth else {
            throw .badJSON(file: fileName, reason: "nested deeper than \(maximumNestingDepth) levels")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(text), options: [])
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw .badJSON(file: fileName, reason: reason ?? "\(error)")
        }
        guard let object = parsed as? [String: Any] else { throw .headerNotObject(file: fileName) }
        if countKeys(in: object) != structure.keyCount {
            let key = JSONStructureScan.firstDuplicateKey(in: text, depthLimit: maximumNestingDepth)
            throw .duplicateKey(file: fileName, key: key ?? "?")
        }
        return object
    }

    /// Strict UTF-8 validation (no overlong forms, no surrogates), as Rust's `str::from_utf8`.
    /// The standard library's decoder, because `String(validating:)` needs macOS 15.
    private static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// Keys of all objects in a parsed JSON value (recursion depth is bounded by the scan above).
    private static func countKeys(in value: Any) -> Int {
        if let object = value as? [String: Any] {
            return object.count + object.values.reduce(0) { $0 + countKeys(in: $1) }
        }
        if let array = value as? [Any] {
            return array.reduce(0) { $0 + countKeys(in: $1) }
        }
        return 0
    }

    /// A JSON number that is a non-negative integer literal fitting `Int`; nil otherwise.
    ///
    /// Foundation hands numbers back as `NSNumber`, where `as? Int` would also accept `2.0`, `1e2`
    /// and `true`. The reference (serde, `usize`) accepts integer literals only, so the number's
    /// storage type is checked: integer types only, never double (`d`) nor boolean (`c`).
    static func nonNegativeInteger(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, !(number is NSDecimalNumber) else { return nil }
        switch String(cString: number.objCType) {
        case "s", "i", "l", "q":
            let v = number.int64Value
            return v >= 0 ? Int(v) : nil
        case "S", "I", "L", "Q":
            let v = number.uint64Value
            return v <= UInt64(Int.max) ? Int(v) : nil
        default:
            return nil
        }
    }

    /// How a non-conforming JSON value reads in an error message.
    private static func describe(_ value: Any) -> String {
        if let number = value as? NSNumber, !(number is NSDecimalNumber) {
            return String(cString: number.objCType) == "c" ? (number.boolValue ? "true" : "false") : "\(number)"
        }
        if value is String { return "a string" }
        if value is [Any] { return "an array" }
        if value is [String: Any] { return "an object" }
        if value is NSNull { return "null" }
        return "\(value)"
    }

    // MARK: Fields

    /// `__metadata__`: absent, null (the reference reads it as an `Option`) or a string→string map.
    private static func metadata(from value: Any, fileName: String) throws(WeightsError) -> [String: String] {
        if value is NSNull { return [:] }
        guard let object = value as? [String: Any] else {
            throw .invalidMetadata(file: fileName, key: nil, reason: "is \(describe(value)), not an object")
        }
        var metadata: [String: String] = [:]
        for key in object.keys.sorted() {
            guard let string = object[key] as? String else {
                throw .invalidMetadata(file: fileName, key: key, reason: "value is \(describe(object[key]!)), not a string")
            }
            metadata[key] = string
        }
        return metadata
    }

    /// One tensor's entry, checked on its own (the layout of all entries is checked after).
    private static func entry(
        named name: String, from value: Any, dataSectionSize: Int, fileName: String
    ) throws(WeightsError) -> SafetensorsEntry {
        guard let object = value as? [String: Any] else {
            throw .malformedEntry(file: fileName, tensor: name, reason: "entry is \(describe(value)), not an object")
        }
        guard let dtypeName = object["dtype"] as? String else {
            throw .malformedEntry(file: fileName, tensor: name, reason: "missing or non-string 'dtype'")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw .unknownDType(file: fileName, tensor: name, dtype: dtypeName)
        }
        guard let shapeValues = object["shape"] as? [Any] else {
            throw .invalidShape(file: fileName, tensor: name, reason: "missing or not an array")
        }
        var shape: [Int] = []
        shape.reserveCapacity(shapeValues.count)
        for dimension in shapeValues {
            guard let size = nonNegativeInteger(dimension) else {
                throw .invalidShape(file: fileName, tensor: name,
                                    reason: "dimension \(describe(dimension)) is not a non-negative 64-bit integer")
            }
            shape.append(size)
        }
        guard let offsets = object["data_offsets"] as? [Any], offsets.count == 2,
              let begin = nonNegativeInteger(offsets[0]), let end = nonNegativeInteger(offsets[1])
        else {
            throw .malformedEntry(file: fileName, tensor: name,
                                  reason: "'data_offsets' is not [begin, end] with non-negative 64-bit integers")
        }
        guard begin <= end else { throw .reversedOffsets(file: fileName, tensor: name, begin: begin, end: end) }

        var bytes = dtype.byteSize
        for size in shape {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: size)
            guard !overflow else { throw .shapeOverflow(file: fileName, tensor: name, shape: shape) }
            bytes = product
        }
        guard end - begin == bytes else {
            throw .sizeMismatch(file: fileName, tensor: name, expectedBytes: bytes, foundBytes: end - begin)
        }
        guard end <= dataSectionSize else {
            throw .offsetsOutOfBounds(file: fileName, tensor: name, end: end, dataSectionSize: dataSectionSize)
        }
        return SafetensorsEntry(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// The tensors must tile the data section exactly: no overlaps, no gaps, nothing after the last.
    ///
    /// This is the reference's rule: `Metadata::validate` sorts the entries by offsets and requires
    /// each to begin where the previous one ended (`InvalidOffset` otherwise), and `read_metadata`
    /// requires the last to end at the end of the file (`MetadataIncompleteBuffer`). Overlaps and
    /// gaps are told apart here because they point at different bugs in the writer.
    private static func checkLayout(
        _ entries: [SafetensorsEntry], dataSectionSize: Int, fileName: String
    ) throws(WeightsError) {
        let ordered = entries.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name)
                < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        var cursor = 0
        var previous: String?
        for entry in ordered {
            let begin = entry.dataOffsets.lowerBound
            if begin < cursor, let previous {
                throw .overlappingTensors(file: fileName, first: previous, second: entry.name)
            }
            if begin > cursor { throw .dataSectionHoles(file: fileName, gap: cursor..<begin) }
            cursor = entry.dataOffsets.upperBound
            previous = entry.name
        }
        if cursor != dataSectionSize { throw .dataSectionHoles(file: fileName, gap: cursor..<dataSectionSize) }
    }
}

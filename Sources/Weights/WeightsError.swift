// Every error the Weights target reports. Weight files are untrusted input, so each problem a file can
// have gets its own case that names the file and, where one is involved, the tensor — a user who is
// told "model.safetensors: tensor 'x': shape [-1]" can act on it; "bad file" cannot be acted on.

/// An error reading, validating or writing a weights file.
///
/// `file` is the path as the caller gave it. Cases are `Equatable` so that tests can assert the
/// exact problem that was found.
public enum WeightsError: Error, Equatable, Sendable {
    // MARK: Files

    /// The file could not be opened, inspected or mapped; `reason` is the system's explanation.
    case unreadableFile(path: String, reason: String)
    /// The file could not be created, written, flushed or renamed into place.
    case unwritableFile(path: String, reason: String)
    /// Shorter than the 8-byte header-length prefix.
    case fileTooSmall(file: String, size: Int)

    // MARK: Header framing

    /// The declared header length exceeds the limit (untrusted lengths are capped before any use).
    case headerTooLarge(file: String, length: UInt64, limit: Int)
    /// The declared header length runs past the end of the file.
    case headerPastEndOfFile(file: String, headerLength: UInt64, fileSize: Int)
    /// The header bytes are not valid UTF-8.
    case headerNotUTF8(file: String)
    /// The header is not valid JSON (or is nested deeper than any safetensors header needs).
    case badJSON(file: String, reason: String)
    /// The header is valid JSON but not a JSON object.
    case headerNotObject(file: String)
    /// The same key appears twice in one JSON object (JSON parsers would silently keep one of them).
    case duplicateKey(file: String, key: String)
    /// `__metadata__` is neither absent, null, nor an object of strings.
    case invalidMetadata(file: String, key: String?, reason: String)

    // MARK: Tensor entries

    /// A tensor's entry is not an object, or lacks / mistypes `dtype` or `data_offsets`.
    case malformedEntry(file: String, tensor: String, reason: String)
    /// `dtype` names no element type this reader knows.
    case unknownDType(file: String, tensor: String, dtype: String)
    /// `shape` is not an array of non-negative integers.
    case invalidShape(file: String, tensor: String, reason: String)
    /// The element count or byte count of `shape` overflows a 64-bit integer.
    case shapeOverflow(file: String, tensor: String, shape: [Int])
    /// `data_offsets` has its begin after its end.
    case reversedOffsets(file: String, tensor: String, begin: Int, end: Int)
    /// The tensor's bytes end past the end of the data section (e.g. a truncated file).
    case offsetsOutOfBounds(file: String, tensor: String, end: Int, dataSectionSize: Int)
    /// The byte range does not hold exactly `dtype` × `shape` bytes.
    case sizeMismatch(file: String, tensor: String, expectedBytes: Int, foundBytes: Int)
    /// Two tensors' byte ranges overlap.
    case overlappingTensors(file: String, first: String, second: String)
    /// Some bytes of the data section belong to no tensor (between tensors or after the last one).
    case dataSectionHoles(file: String, gap: Range<Int>)

    // MARK: Use

    /// The file has no tensor of that name.
    case missingTensor(file: String, name: String)
    /// The element type is valid in the format but cannot be turned into fp32 (e.g. complex).
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// A tensor was found with another shape than the model expects.
    case shapeMismatch(key: String, expected: [Int], found: [Int])
    /// A tensor name that cannot be written (duplicate, or the reserved `__metadata__`).
    case invalidTensorName(file: String, name: String, reason: String)
}

extension WeightsError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            "\(path): cannot read: \(reason)"
        case let .unwritableFile(path, reason):
            "\(path): cannot write: \(reason)"
        case let .fileTooSmall(file, size):
            "\(file): \(size) bytes is too small for a safetensors file (at least 8 needed)"
        case let .headerTooLarge(file, length, limit):
            "\(file): header length \(length) exceeds the limit of \(limit) bytes"
        case let .headerPastEndOfFile(file, length, size):
            "\(file): header length \(length) runs past the end of the \(size)-byte file"
        case let .headerNotUTF8(file):
            "\(file): header is not valid UTF-8"
        case let .badJSON(file, reason):
            "\(file): header is not valid JSON: \(reason)"
        case let .headerNotObject(file):
            "\(file): header is not a JSON object"
        case let .duplicateKey(file, key):
            "\(file): key '\(key)' appears twice in one header object"
        case let .invalidMetadata(file, key, reason):
            "\(file): __metadata__\(key.map { "['\($0)']" } ?? ""): \(reason)"
        case let .malformedEntry(file, tensor, reason):
            "\(file): tensor '\(tensor)': \(reason)"
        case let .unknownDType(file, tensor, dtype):
            "\(file): tensor '\(tensor)': unknown dtype '\(dtype)'"
        case let .invalidShape(file, tensor, reason):
            "\(file): tensor '\(tensor)': invalid shape: \(reason)"
        case let .shapeOverflow(file, tensor, shape):
            "\(file): tensor '\(tensor)': shape \(shape) overflows a 64-bit byte count"
        case let .reversedOffsets(file, tensor, begin, end):
            "\(file): tensor '\(tensor)': data_offsets begin \(begin) is after end \(end)"
        case let .offsetsOutOfBounds(file, tensor, end, size):
            "\(file): tensor '\(tensor)': data ends at byte \(end) of a \(size)-byte data section"
        case let .sizeMismatch(file, tensor, expected, found):
            "\(file): tensor '\(tensor)': dtype and shape need \(expected) bytes, data_offsets hold \(found)"
        case let .overlappingTensors(file, first, second):
            "\(file): tensors '\(first)' and '\(second)' overlap"
        case let .dataSectionHoles(file, gap):
            "\(file): data section bytes \(gap.lowerBound)..<\(gap.upperBound) belong to no tensor"
        case let .missingTensor(file, name):
            "\(file): no tensor named '\(name)'"
        case let .unsupportedDType(file, tensor, dtype):
            "\(file): tensor '\(tensor)': dtype \(dtype) cannot be converted to fp32"
        case let .shapeMismatch(key, expected, found):
            "tensor '\(key)': expected shape \(expected), found \(found)"
        case let .invalidTensorName(file, name, reason):
            "\(file): cannot write tensor '\(name)': \(reason)"
        }
    }
}

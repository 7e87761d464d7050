// Every error the Weights target reports. Weight files are untrusted input, so each problem a file can
// have gets its own case that names the file and, where one is involved, the tensor — a user who is
// told "model.safetensors: tensor 'x': shape [-1]" can act on it; "bad file" cannot be acted on.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    // MARK: PyTorch checkpoints (zip + pickle)

    /// The zip container is damaged or is not a zip at all; `reason` names the structure at fault.
    case corruptArchive(file: String, reason: String)
    /// A zip entry that cannot be served straight from the mapping (compressed, encrypted, …).
    case unsupportedArchiveEntry(file: String, entry: String, reason: String)
    /// A zip entry the checkpoint needs is absent (`data.pkl`).
    case missingArchiveEntry(file: String, entry: String)
    /// A PyTorch file written without the zip container (torch < 1.6, or `_use_new_zipfile_serialization=False`).
    case legacyTorchFormat(file: String)
    /// The pickle program is malformed: truncated, a stack underflow, a value of the wrong kind.
    /// `offset` is the byte offset of the opcode inside the pickle.
    case corruptPickle(file: String, offset: Int, reason: String)
    /// The pickle is larger, deeper or more shared than any real checkpoint (nesting, memo, stack).
    case pickleLimitExceeded(file: String, limit: String)
    /// An opcode outside the data-only subset this reader interprets (e.g. `INST`, `EXT1`).
    case forbiddenPickleOpcode(file: String, offset: Int, opcode: UInt8)
    /// A global that exists to run code (`os.system`, `builtins.eval`, …): the file is hostile.
    case forbiddenPickleGlobal(file: String, module: String, name: String)
    /// A tensor's rebuild call has arguments of the wrong kind, or a storage type with no tensor reading.
    case invalidTensorRecord(file: String, tensor: String, reason: String)
    /// A tensor refers to a storage that has no `data/<key>` entry in the archive.
    case missingStorage(file: String, tensor: String, key: String)
    /// A tensor's view (offset, sizes, strides) reaches past its storage, or the storage entry does
    /// not hold the bytes its record declares.
    case storageOutOfBounds(file: String, tensor: String, reason: String)
    /// The unpickled object holds no dictionary of tensors.
    case noStateDict(file: String, reason: String)
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
        case let .corruptArchive(file, reason):
            "\(file): damaged zip archive: \(reason)"
        case let .unsupportedArchiveEntry(file, entry, reason):
            "\(file): zip entry '\(entry)': \(reason)"
        case let .missingArchiveEntry(file, entry):
            "\(file): the archive has no entry '\(entry)'"
        case let .legacyTorchFormat(file):
            "\(file): PyTorch's legacy (pre-1.6, non-zip) format is not supported; re-save it with torch >= 1.6 or convert it to safetensors"
        case let .corruptPickle(file, offset, reason):
            "\(file): damaged pickle at byte \(offset): \(reason)"
        case let .pickleLimitExceeded(file, limit):
            "\(file): pickle exceeds a safety limit: \(limit)"
        case let .forbiddenPickleOpcode(file, offset, opcode):
            "\(file): pickle opcode 0x\(String(opcode, radix: 16)) at byte \(offset) is not allowed"
        case let .forbiddenPickleGlobal(file, module, name):
            "\(file): pickle refers to \(module).\(name), which can run code; refusing the file"
        case let .invalidTensorRecord(file, tensor, reason):
            "\(file): tensor '\(tensor)': \(reason)"
        case let .missingStorage(file, tensor, key):
            "\(file): tensor '\(tensor)': storage '\(key)' is not in the archive"
        case let .storageOutOfBounds(file, tensor, reason):
            "\(file): tensor '\(tensor)': \(reason)"
        case let .noStateDict(file, reason):
            "\(file): no state dict: \(reason)"
        }
    }
}

/// The system's explanation of the last failed call, for `WeightsError` reasons.
func errnoText() -> String { String(cString: strerror(errno)) }

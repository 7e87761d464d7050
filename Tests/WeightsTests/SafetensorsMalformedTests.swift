// Malformed safetensors files: each is assembled by hand in a scratch directory, opened with
// SafetensorsFile, and must fail with its own specific WeightsError — never a crash, never a read
// outside the file.
import Foundation
import Testing
import Tensor
@testable import Weights

/// One malformed file and the error it must produce.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    let label: String
    let bytes: [UInt8]
    /// True when `error` is the expected one for the file at `path`.
    let matches: @Sendable (_ error: WeightsError, _ path: String) -> Bool

    var testDescription: String { label }

    /// Expects exactly `expected(path)`.
    init(_ label: String, _ bytes: [UInt8], _ expected: @escaping @Sendable (_ path: String) -> WeightsError) {
        self.label = label
        self.bytes = bytes
        self.matches = { error, path in error == expected(path) }
    }

    /// Expects `.badJSON` for the file, with a reason containing `fragment` (the rest of the reason
    /// is Foundation's wording, which is not ours to pin down).
    static func badJSON(_ label: String, _ bytes: [UInt8], reasonContaining fragment: String = "") -> MalformedCase {
        MalformedCase(label: label, bytes: bytes) { error, path in
            guard case let .badJSON(file, reason) = error else { return false }
            return file == path && (fragment.isEmpty || reason.contains(fragment))
        }
    }

    private init(label: String, bytes: [UInt8], matches: @escaping @Sendable (WeightsError, String) -> Bool) {
        self.label = label
        self.bytes = bytes
        self.matches = matches
    }
}

/// An entry's JSON text.
private func entry(_ shape: String, _ begin: Int, _ end: Int, dtype: String = "F32") -> String {
    "{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(end)]}"
}

private let sixteenBytes = [UInt8](repeating: 0, count: 16)

let malformedCases: [MalformedCase] = [
    MalformedCase("empty file", []) { .fileTooSmall(file: $0, size: 0) },
    MalformedCase("truncated file (5 bytes)", [8, 0, 0, 0, 0]) { .fileTooSmall(file: $0, size: 5) },
    MalformedCase("truncated data",
                  safetensorsBytes(header: "{\"w\":\(entry("[4]", 0, 16))}", data: Array(sixteenBytes.prefix(12)))) {
        .offsetsOutOfBounds(file: $0, tensor: "w", end: 16, dataSectionSize: 12)
    },
    MalformedCase("huge header length", safetensorsBytes(header: "{}", declaredLength: 1 << 40)) {
        .headerTooLarge(file: $0, length: 1 << 40, limit: 100_000_000)
    },
    MalformedCase("header length past end of file", safetensorsBytes(header: "{}", declaredLength: 3)) {
        .headerPastEndOfFile(file: $0, headerLength: 3, fileSize: 10)
    },
    MalformedCase("header length of UInt64.max", safetensorsBytes(header: "{}", declaredLength: .max)) {
        .headerTooLarge(file: $0, length: .max, limit: 100_000_000)
    },
    MalformedCase("header not UTF-8", safetensorsBytes(headerBytes: [0x7B, 0x22, 0xFF, 0x22, 0x7D])) {
        .headerNotUTF8(file: $0)
    },
    .badJSON("bad JSON", safetensorsBytes(header: "{\"w\": {\"dtype\": ")),
    .badJSON("empty header", safetensorsBytes(header: "")),
    .badJSON("trailing garbage after the object", safetensorsBytes(header: "{} x")),
    .badJSON("number beyond Double", safetensorsBytes(header: "{\"w\":\(entry("[1e400]", 0, 0))}")),
    .badJSON("deep nesting", safetensorsBytes(header: "{\"w\":" + String(repeating: "[", count: 100_000)
                                              + String(repeating: "]", count: 100_000) + "}"),
             reasonContaining: "nested deeper"),
    MalformedCase("non-object JSON", safetensorsBytes(header: "[1, 2]")) { .headerNotObject(file: $0) },
    MalformedCase("duplicate tensor name",
                  safetensorsBytes(header: "{\"a\":\(entry("[0]", 0, 0)),\"\\u0061\":\(entry("[0]", 0, 0))}")) {
        .duplicateKey(file: $0, key: "a")
    },
    MalformedCase("duplicate field inside an entry",
                  safetensorsBytes(header: "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[0,0]}}")) {
        .duplicateKey(file: $0, key: "dtype")
    },
    MalformedCase("entry is not an object", safetensorsBytes(header: "{\"w\":[1]}")) {
        .malformedEntry(file: $0, tensor: "w", reason: "entry is an array, not an object")
    },
    MalformedCase("missing dtype", safetensorsBytes(header: "{\"w\":{\"shape\":[],\"data_offsets\":[0,4]}}")) {
        .malformedEntry(file: $0, tensor: "w", reason: "missing or non-string 'dtype'")
    },
    MalformedCase("unknown dtype", safetensorsBytes(header: "{\"w\":\(entry("[1]", 0, 16, dtype: "F128"))}", data: sixteenBytes)) {
        .unknownDType(file: $0, tensor: "w", dtype: "F128")
    },
    MalformedCase("negative shape", safetensorsBytes(header: "{\"w\":\(entry("[-4]", 0, 16))}", data: sixteenBytes)) {
        .invalidShape(file: $0, tensor: "w", reason: "dimension -4 is not a non-negative 64-bit integer")
    },
    MalformedCase("fractional shape", safetensorsBytes(header: "{\"w\":\(entry("[2.5]", 0, 16))}", data: sixteenBytes)) {
        .invalidShape(file: $0, tensor: "w", reason: "dimension 2.5 is not a non-negative 64-bit integer")
    },
    MalformedCase("integral float in shape", safetensorsBytes(header: "{\"w\":\(entry("[4.0]", 0, 16))}", data: sixteenBytes)) {
        .invalidShape(file: $0, tensor: "w", reason: "dimension 4.0 is not a non-negative 64-bit integer")
    },
    MalformedCase("boolean in shape", safetensorsBytes(header: "{\"w\":\(entry("[true]", 0, 4))}", data: [0, 0, 0, 0])) {
        .invalidShape(file: $0, tensor: "w", reason: "dimension true is not a non-negative 64-bit integer")
    },
    MalformedCase("shape dimension beyond 64 bits",
                  safetensorsBytes(header: "{\"w\":\(entry("[123456789012345678901234567890]", 0, 16))}", data: sixteenBytes)) {
        .invalidShape(file: $0, tensor: "w", reason: "dimension 123456789012345678901234567890 is not a non-negative 64-bit integer")
    },
    MalformedCase("shape overflow", safetensorsBytes(header: "{\"w\":\(entry("[4294967296,4294967296]", 0, 16))}", data: sixteenBytes)) {
        .shapeOverflow(file: $0, tensor: "w", shape: [1 << 32, 1 << 32])
    },
    MalformedCase("data_offsets with three numbers", safetensorsBytes(header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16,32]}}", data: sixteenBytes)) {
        .malformedEntry(file: $0, tensor: "w", reason: "'data_offsets' is not [begin, end] with non-negative 64-bit integers")
    },
    MalformedCase("begin > end", safetensorsBytes(header: "{\"w\":\(entry("[0]", 16, 0))}", data: sixteenBytes)) {
        .reversedOffsets(file: $0, tensor: "w", begin: 16, end: 0)
    },
    MalformedCase("dtype × shape does not match the offsets",
                  safetensorsBytes(header: "{\"w\":\(entry("[3]", 0, 16))}", data: sixteenBytes)) {
        .sizeMismatch(file: $0, tensor: "w", expectedBytes: 12, foundBytes: 16)
    },
    MalformedCase("offsets past the end",
                  safetensorsBytes(header: "{\"a\":\(entry("[4]", 0, 16)),\"b\":\(entry("[4]", 16, 32))}", data: sixteenBytes)) {
        .offsetsOutOfBounds(file: $0, tensor: "b", end: 32, dataSectionSize: 16)
    },
    MalformedCase("overlapping ranges",
                  safetensorsBytes(header: "{\"a\":\(entry("[4]", 0, 16)),\"b\":\(entry("[2]", 8, 16))}", data: sixteenBytes)) {
        .overlappingTensors(file: $0, first: "a", second: "b")
    },
    MalformedCase("hole between tensors",
                  safetensorsBytes(header: "{\"a\":\(entry("[1]", 0, 4)),\"b\":\(entry("[2]", 8, 16))}", data: sixteenBytes)) {
        .dataSectionHoles(file: $0, gap: 4..<8)
    },
    MalformedCase("bytes after the last tensor",
                  safetensorsBytes(header: "{\"a\":\(entry("[2]", 0, 8))}", data: sixteenBytes)) {
        .dataSectionHoles(file: $0, gap: 8..<16)
    },
    MalformedCase("non-string metadata",
                  safetensorsBytes(header: "{\"__metadata__\":{\"steps\":400}}")) {
        .invalidMetadata(file: $0, key: "steps", reason: "value is 400, not a string")
    },
    MalformedCase("metadata not an object", safetensorsBytes(header: "{\"__metadata__\":\"pt\"}")) {
        .invalidMetadata(file: $0, key: nil, reason: "is a string, not an object")
    },
]

@Suite("Malformed safetensors files")
struct SafetensorsMalformedTests {
    @Test(arguments: malformedCases)
    func malformedFileGivesItsSpecificError(_ malformed: MalformedCase) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let url = try scratch.file("malformed.safetensors", bytes: malformed.bytes)
        let error = weightsError { _ = try SafetensorsFile(contentsOf: url) }
        let found = try #require(error, "\(malformed.label): opened without error")
        #expect(malformed.matches(found, url.path), "\(malformed.label): got \(found)")
    }

    /// The header parser alone (the fuzzer's entry point) gives the same answers as the reader.
    @Test func headerParserAgreesWithReader() {
        for malformed in malformedCases {
            let error = weightsError { _ = try SafetensorsHeader(parsing: Data(malformed.bytes), fileName: "mem") }
            #expect(error.map { malformed.matches($0, "mem") } == true, "\(malformed.label): got \(String(describing: error))")
        }
    }

    @Test func missingFileIsUnreadable() {
        let path = "/nonexistent/dir/model.safetensors"
        let error = weightsError { _ = try SafetensorsFile(contentsOf: URL(fileURLWithPath: path)) }
        #expect(error == .unreadableFile(path: path, reason: "No such file or directory"))
    }

    @Test func directoryIsUnreadable() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let error = weightsError { _ = try SafetensorsFile(contentsOf: scratch.url) }
        #expect(error == .unreadableFile(path: scratch.url.path, reason: "is a directory"))
    }

    @Test func missingTensorIsNamed() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let url = try scratch.file("one.safetensors", bytes: safetensorsBytes(header: "{\"a\":\(entry("[1]", 0, 4))}", data: bytes(of: [1])))
        let file = try SafetensorsFile(contentsOf: url)
        #expect(weightsError { _ = try file.tensor("b") } == .missingTensor(file: url.path, name: "b"))
    }

    @Test func complexTensorIsValidButNotConvertible() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let url = try scratch.file("c64.safetensors", bytes: safetensorsBytes(header: "{\"z\":\(entry("[1]", 0, 8, dtype: "C64"))}", data: bytes(of: [1, 2])))
        let file = try SafetensorsFile(contentsOf: url)
        #expect(weightsError { _ = try file.tensor("z") } == .unsupportedDType(file: url.path, tensor: "z", dtype: "C64"))
    }

    /// Every error names its file (and tensor) in its text, so a user can act on it.
    @Test func descriptionsNameTheFileAndTensor() {
        let error = WeightsError.sizeMismatch(file: "unet.safetensors", tensor: "conv_in.weight", expectedBytes: 12, foundBytes: 16)
        #expect(error.description.contains("unet.safetensors"))
        #expect(error.description.contains("conv_in.weight"))
    }
}

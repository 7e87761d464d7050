// Helpers for the safetensors tests: a scratch directory per test, and hand-assembled files whose
// header, declared length and data are each under the test's control (for malformed inputs).
import Foundation
import Testing
import Tensor
import Weights

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("dbrender-weights-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes `bytes` to `name` inside the directory and returns its URL.
    func file(_ name: String, bytes: [UInt8]) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The bytes of a safetensors file: an 8-byte length (the header's own unless `declaredLength`
/// overrides it), the header text, then `data`.
func safetensorsBytes(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    safetensorsBytes(headerBytes: Array(header.utf8), data: data, declaredLength: declaredLength)
}

/// As `safetensorsBytes(header:data:declaredLength:)`, for header bytes that need not be UTF-8.
func safetensorsBytes(headerBytes: [UInt8], data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let length = declaredLength ?? UInt64(headerBytes.count)
    return withUnsafeBytes(of: length.littleEndian) { Array($0) } + headerBytes + data
}

/// Little-endian bytes of fp32 values.
func bytes(of values: [Float]) -> [UInt8] {
    values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }
}

/// The `WeightsError` that `body` throws, or nil if it returns normally. (Closures do not infer
/// typed throws yet, so any other error is recorded as a test failure.)
func weightsError(_ body: () throws -> Void) -> WeightsError? {
    do {
        try body()
        return nil
    } catch let error as WeightsError {
        return error
    } catch {
        Issue.record("expected a WeightsError, got \(error)")
        return nil
    }
}

// The fuzz target: arbitrary bytes, taken as a whole safetensors file, go through the same header
// parser the reader uses. Any input must either be rejected with a WeightsError or be accepted with
// a header whose promises hold; a crash, a sanitizer report or a broken promise is a finding.
import Weights

/// Parses `bytes` as a safetensors file; on success, checks what validation promises the reader.
///
/// Returns the error for rejected inputs (the replay tool prints it), nil for accepted ones.
@discardableResult
func checkOneInput(_ bytes: UnsafeRawBufferPointer) -> WeightsError? {
    let header: SafetensorsHeader
    do {
        header = try SafetensorsHeader(parsing: bytes, fileName: "fuzz-input")
    } catch {
        _ = error.description  // formatting every error must not crash either
        return error
    }
    checkPromises(of: header, fileSize: bytes.count)
    return nil
}

/// What `SafetensorsFile.tensor(_:)` relies on: every range is in the file, holds exactly
/// dtype × shape bytes, and the ranges tile the data section.
private func checkPromises(of header: SafetensorsHeader, fileSize: Int) {
    precondition(header.headerLength <= SafetensorsHeader.maximumHeaderLength)
    precondition(header.dataSectionOffset + header.dataSectionSize == fileSize)
    var covered = 0
    for entry in header.entries.values {
        let range = entry.dataOffsets
        precondition(range.lowerBound >= 0 && range.upperBound <= header.dataSectionSize, "\(entry) outside the data")
        precondition(entry.shape.allSatisfy { $0 >= 0 }, "\(entry) has a negative size")
        precondition(entry.elementCount * entry.dtype.byteSize == entry.byteCount, "\(entry) size mismatch")
        covered += entry.byteCount
    }
    precondition(covered == header.dataSectionSize, "tensors cover \(covered) of \(header.dataSectionSize) bytes")
}

/// libFuzzer's entry point (see Fuzz/README.md for the build that links libFuzzer).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    checkOneInput(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

// The safetensors reader: maps the file, validates its header (SafetensorsHeader), and hands out fp32
// tensors — borrowing the mapping where the bytes already are aligned fp32, converting otherwise.
import Foundation
import Tensor

/// A safetensors file opened for reading.
///
/// Opening maps the file and validates the whole header; no tensor bytes are read until a tensor is
/// asked for. Tensors returned by `tensor(_:)` may borrow the mapping and keep it alive, so they stay
/// valid after this object is gone.
public final class SafetensorsFile: @unchecked Sendable {
    /// Where the file was opened from.
    public let url: URL
    /// The validated header.
    public let header: SafetensorsHeader
    /// The mapping; owner of every zero-copy tensor's memory.
    private let mapping: MappedFile

    /// The tensors' header entries, by name.
    public var entries: [String: SafetensorsEntry] { header.entries }
    /// The `__metadata__` map (empty when the file has none).
    public var metadata: [String: String] { header.metadata }
    /// Names of all tensors, sorted.
    public var tensorNames: [String] { entries.keys.sorted() }

    /// Opens, maps and validates the file at `url`.
    public init(contentsOf url: URL) throws(WeightsError) {
        self.url = url
        mapping = try MappedFile(path: url.path)
        header = try SafetensorsHeader(parsing: mapping.bytes, fileName: url.path)
    }

    /// The named tensor as fp32.
    ///
    /// F32 data that is 4-byte aligned in memory comes back without a copy: its storage borrows the
    /// mapping (`storage.isBorrowed` is true). Writes to such a tensor never reach the file, but they
    /// are seen by later zero-copy reads of the same tensor from this object. Every other dtype —
    /// and misaligned F32 — is converted into a new tensor.
    public func tensor(_ name: String) throws(WeightsError) -> Tensor {
        guard let entry = entries[name] else { throw .missingTensor(file: url.path, name: name) }
        guard entry.dtype.convertsToFloat else {
            throw .unsupportedDType(file: url.path, tensor: name, dtype: entry.dtype.rawValue)
        }
        // In bounds: the header checked the range lies inside the data section of this mapping.
        // An empty data section may come with a nil base only if the file is empty, which the
        // header rejects, so `base` is non-nil here.
        let source = mapping.base! + header.dataSectionOffset + entry.dataOffsets.lowerBound
        let count = entry.elementCount

        if entry.dtype == .f32, Int(bitPattern: source) % MemoryLayout<Float>.alignment == 0 {
            let floats = source.bindMemory(to: Float.self, capacity: count)
            let storage = TensorStorage(borrowing: floats, count: count, owner: mapping)
            return Tensor(storage: storage, shape: entry.shape)
        }
        let out = Tensor(zeros: entry.shape)
        entry.dtype.widen(UnsafeRawPointer(source), into: out.pointer, count: count)
        return out
    }

    /// True when `tensor(name)` returns memory borrowed from the mapping rather than a copy.
    public func isZeroCopy(_ name: String) -> Bool {
        guard let entry = entries[name], entry.dtype == .f32, let base = mapping.base else { return false }
        let address = Int(bitPattern: base) + header.dataSectionOffset + entry.dataOffsets.lowerBound
        return address % MemoryLayout<Float>.alignment == 0
    }
}

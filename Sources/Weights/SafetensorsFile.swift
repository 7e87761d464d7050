// safetensors reader — PROVISIONAL minimal version (reads the whole file, trusts the header).
// To be replaced by the memory-mapped, validating reader; the public API below stays.
import Foundation
import Tensor

/// Element types a safetensors file may hold (the ones we read).
public enum SafetensorsDType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i64 = "I64", i32 = "I32", u8 = "U8", bool = "BOOL"
    public var byteSize: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16: 2
        case .u8, .bool: 1
        }
    }
}

/// One tensor's header entry.
public struct SafetensorsEntry: Sendable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Byte range inside the data section (after the header).
    public let dataOffsets: Range<Int>
}

/// A safetensors file opened for reading.
public final class SafetensorsFile: @unchecked Sendable {
    public let url: URL
    public let entries: [String: SafetensorsEntry]
    public let metadata: [String: String]
    private let data: Data
    private let dataStart: Int

    public init(contentsOf url: URL) throws {
        self.url = url
        data = try Data(contentsOf: url)
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        var entries: [String: SafetensorsEntry] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in json {
            let object = value as! [String: Any]
            if key == "__metadata__" { metadata = object as! [String: String]; continue }
            let offsets = object["data_offsets"] as! [Int]
            entries[key] = SafetensorsEntry(
                name: key, dtype: SafetensorsDType(rawValue: object["dtype"] as! String)!,
                shape: object["shape"] as! [Int], dataOffsets: offsets[0]..<offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
        dataStart = 8 + headerLength
    }

    /// Names of all tensors, sorted.
    public var tensorNames: [String] { entries.keys.sorted() }

    /// The named tensor as fp32.
    public func tensor(_ name: String) throws -> Tensor {
        let entry = entries[name]!
        let out = Tensor(zeros: entry.shape)
        data.withUnsafeBytes { raw in
            let src = raw.baseAddress! + dataStart + entry.dataOffsets.lowerBound
            switch entry.dtype {
            case .f32: memcpy(out.pointer, src, out.count * 4)
            case .f16: HalfPrecision.widenFloat16(src.assumingMemoryBound(to: UInt16.self), into: out.pointer, count: out.count)
            case .bf16: HalfPrecision.widenBFloat16(src.assumingMemoryBound(to: UInt16.self), into: out.pointer, count: out.count)
            case .i64: for i in 0..<out.count { out.pointer[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
            default: fatalError("unsupported dtype")
            }
        }
        return out
    }
}

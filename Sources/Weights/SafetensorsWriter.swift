// The safetensors writer. Output matches what the reference writes (`safetensors.torch.save_file`,
// Rust `serialize_to_file`) byte for byte in layout: compact JSON with `__metadata__` first, tensors
// ordered by dtype alignment then by name bytes (here all share one dtype, so by name), data packed
// without gaps in that order, and the header padded with spaces to a multiple of 8 bytes so that
// every tensor's data is 8-byte aligned in the file — and a mapped F32 tensor can be borrowed as-is.
import Foundation
import Tensor

/// Writes tensors to safetensors files.
public enum SafetensorsWriter {
    /// Writes `tensors` (stored as `dtype`) and `metadata` to `url`, atomically (see `AtomicFile`).
    ///
    /// - Parameters:
    ///   - tensors: names and values; names must be unique and not `__metadata__`. The given order
    ///     does not matter: the file is ordered by name, as the reference orders it.
    ///   - metadata: free-form strings stored under `__metadata__` (omitted when empty).
    ///   - dtype: `.f32`, `.f16` or `.bf16`; halves are rounded to nearest even.
    public static func write(
        _ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
        to url: URL, dtype: SafetensorsDType = .f32
    ) throws(WeightsError) {
        guard [.f32, .f16, .bf16].contains(dtype) else {
            throw .unsupportedDType(file: url.path, tensor: tensors.first?.name ?? "", dtype: dtype.rawValue)
        }
        var seen = Set<String>()
        for (name, _) in tensors {
            guard name != "__metadata__" else {
                throw .invalidTensorName(file: url.path, name: name, reason: "the name is reserved for metadata")
            }
            guard seen.insert(name).inserted else {
                throw .invalidTensorName(file: url.path, name: name, reason: "the name is given twice")
            }
        }
        let ordered = tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        let header = headerBytes(ordered.map { ($0.name, $0.tensor.shape) }, metadata: metadata, dtype: dtype)
        guard header.count <= SafetensorsHeader.maximumHeaderLength else {
            throw .headerTooLarge(file: url.path, length: UInt64(header.count),
                                  limit: SafetensorsHeader.maximumHeaderLength)
        }

        try AtomicFile.write(to: url) { (sink: FileSink) throws(WeightsError) in
            let prefix = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
            try sink.write(prefix + header)
            for (_, tensor) in ordered {
                try writeData(of: tensor, as: dtype, to: sink)
            }
        }
    }

    /// The padded JSON header for tensors of `shapes` laid out in the given order.
    static func headerBytes(
        _ shapes: [(name: String, shape: [Int])], metadata: [String: String], dtype: SafetensorsDType
    ) -> [UInt8] {
        var json = "{"
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                .map { "\(quoted($0.key)):\(quoted($0.value))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for (name, shape) in shapes {
            let bytes = Tensor.elementCount(shape) * dtype.byteSize
            fields.append("\(quoted(name)):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        json += fields.joined(separator: ",") + "}"
        var bytes = Array(json.utf8)
        // 8 (the length prefix) + a multiple of 8 puts the data section on an 8-byte boundary.
        bytes += Array(repeating: UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8)
        return bytes
    }

    /// A JSON string literal, escaped as serde_json escapes (quote, backslash, control characters).
    static func quoted(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Elements converted per chunk when narrowing: 256 KiB of halves, small enough to stay in cache.
    private static let chunkElements = 1 << 17

    private static func writeData(of tensor: Tensor, as dtype: SafetensorsDType, to sink: FileSink) throws(WeightsError) {
        if dtype == .f32 {
            try sink.write(UnsafeRawBufferPointer(start: tensor.pointer, count: tensor.count * 4))
            return
        }
        let scratch = UnsafeMutablePointer<UInt16>.allocate(capacity: chunkElements)
        defer { scratch.deallocate() }
        var start = 0
        while start < tensor.count {
            let n = min(chunkElements, tensor.count - start)
            if dtype == .f16 {
                HalfPrecision.narrowToFloat16(tensor.pointer + start, into: scratch, count: n)
            } else {
                HalfPrecision.narrowToBFloat16(tensor.pointer + start, into: scratch, count: n)
            }
            try sink.write(UnsafeRawBufferPointer(start: scratch, count: n * 2))
            start += n
        }
    }
}

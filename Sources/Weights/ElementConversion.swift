// Widening of stored elements to fp32. Halves go through the F16C kernels of `HalfPrecision`; the rest
// are loaded one by one with unaligned loads, because a file may place any tensor at any byte offset
// (the reference aligns what it writes, but a reader cannot rely on that).
import Tensor

extension SafetensorsDType {
    /// True when elements of this type can be read as fp32.
    public var convertsToFloat: Bool { self != .c64 }

    /// Writes `count` elements stored at `source` into `destination` as fp32.
    ///
    /// Integers wider than 24 bits round to the nearest float, as PyTorch's `.float()` does.
    /// Precondition: `convertsToFloat`.
    func widen(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .f32: UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .f16, .bf16: widenHalves(source, into: destination, count: count)
        case .f64: widenDoubles(source, into: destination, count: count)
        case .i64: load(source, Int64.self, into: destination, count: count) { Float($0) }
        case .i32: load(source, Int32.self, into: destination, count: count) { Float($0) }
        case .i16: load(source, Int16.self, into: destination, count: count) { Float($0) }
        case .i8: load(source, Int8.self, into: destination, count: count) { Float($0) }
        case .u64: load(source, UInt64.self, into: destination, count: count) { Float($0) }
        case .u32: load(source, UInt32.self, into: destination, count: count) { Float($0) }
        case .u16: load(source, UInt16.self, into: destination, count: count) { Float($0) }
        case .u8: load(source, UInt8.self, into: destination, count: count) { Float($0) }
        case .bool: load(source, UInt8.self, into: destination, count: count) { $0 != 0 ? 1 : 0 }
        case .f8e5m2: load(source, UInt8.self, into: destination, count: count) { Self.floatFromF8E5M2($0) }
        case .f8e4m3: load(source, UInt8.self, into: destination, count: count) { Self.floatFromF8E4M3($0) }
        case .c64: preconditionFailure("complex elements have no fp32 reading")
        }
    }

    private func widenHalves(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        let widen = self == .f16 ? HalfPrecision.widenFloat16 : HalfPrecision.widenBFloat16
        if Int(bitPattern: source) % 2 == 0 {
            widen(source.assumingMemoryBound(to: UInt16.self), destination, count)
            return
        }
        // Misaligned halves (only a hand-made file has them): copy to aligned memory first.
        let aligned = UnsafeMutablePointer<UInt16>.allocate(capacity: max(count, 1))
        defer { aligned.deallocate() }
        UnsafeMutableRawPointer(aligned).copyMemory(from: source, byteCount: count * 2)
        widen(aligned, destination, count)
    }

    private func load<T: FixedWidthInteger>(
        _ source: UnsafeRawPointer, _: T.Type, into destination: UnsafeMutablePointer<Float>, count: Int,
        _ convert: (T) -> Float
    ) {
        for i in 0..<count {
            destination[i] = convert(T(littleEndian: source.loadUnaligned(fromByteOffset: i * T.bitWidth / 8, as: T.self)))
        }
    }

    private func widenDoubles(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let bits = UInt64(littleEndian: source.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
            destination[i] = Float(Double(bitPattern: bits))
        }
    }

    /// FP8 E5M2 (PyTorch `float8_e5m2`): the upper byte of an IEEE half — bias 15, two mantissa
    /// bits, IEEE infinities and NaNs.
    static func floatFromF8E5M2(_ byte: UInt8) -> Float {
        let exponent = Int((byte >> 2) & 0x1F)
        if exponent == 0x1F { return byte & 0x03 == 0 ? (byte & 0x80 != 0 ? -.infinity : .infinity) : .nan }
        return minifloat(byte, exponent: exponent, mantissa: Float(byte & 0x03) / 4, bias: 15)
    }

    /// FP8 E4M3 in its "fn" form (PyTorch `float8_e4m3fn`): bias 7, no infinities, and only
    /// S.1111.111 is NaN — the top exponent otherwise holds ordinary values up to 448.
    static func floatFromF8E4M3(_ byte: UInt8) -> Float {
        let exponent = Int((byte >> 3) & 0x0F)
        if exponent == 0x0F && byte & 0x07 == 0x07 { return .nan }
        return minifloat(byte, exponent: exponent, mantissa: Float(byte & 0x07) / 8, bias: 7)
    }

    /// ±(1 + mantissa) · 2^(exponent − bias), or ±mantissa · 2^(1 − bias) when subnormal.
    /// (Arithmetic rather than `Float16`, which macOS on Intel lacks.)
    private static func minifloat(_ byte: UInt8, exponent: Int, mantissa: Float, bias: Int) -> Float {
        let magnitude = exponent == 0
            ? Float(sign: .plus, exponent: 1 - bias, significand: mantissa)
            : Float(sign: .plus, exponent: exponent - bias, significand: 1 + mantissa)
        return byte & 0x80 != 0 ? -magnitude : magnitude
    }
}

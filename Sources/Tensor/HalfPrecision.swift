// fp16 and bf16 ⇄ fp32 conversion (weights in half precision are widened once, at load).
import CKernels

/// Conversions between fp32 tensors and raw IEEE-half / bfloat16 values.
public enum HalfPrecision {
    /// Widens `count` IEEE halves at `source` into `destination`.
    public static func widenFloat16(_ source: UnsafePointer<UInt16>, into destination: UnsafeMutablePointer<Float>, count: Int) {
        dbr_f16_to_f32(source, destination, count)
    }

    /// Widens `count` bfloat16 values at `source` into `destination`.
    public static func widenBFloat16(_ source: UnsafePointer<UInt16>, into destination: UnsafeMutablePointer<Float>, count: Int) {
        dbr_bf16_to_f32(source, destination, count)
    }

    /// Narrows fp32 to IEEE half (round to nearest even; out-of-range values become ±inf).
    public static func narrowToFloat16(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, count: Int) {
        dbr_f32_to_f16(source, destination, count)
    }

    /// Narrows fp32 to bfloat16 (round to nearest even), as PyTorch's `.to(torch.bfloat16)`.
    public static func narrowToBFloat16(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, count: Int) {
        dbr_f32_to_bf16(source, destination, count)
    }

    /// A tensor from IEEE-half values.
    public static func tensor(float16 values: UnsafeBufferPointer<UInt16>, shape: [Int]) -> Tensor {
        let t = Tensor(zeros: shape)
        precondition(values.count == t.count, "fp16 values do not fill shape \(shape)")
        widenFloat16(values.baseAddress!, into: t.pointer, count: t.count)
        return t
    }

    /// A tensor from bfloat16 values.
    public static func tensor(bfloat16 values: UnsafeBufferPointer<UInt16>, shape: [Int]) -> Tensor {
        let t = Tensor(zeros: shape)
        precondition(values.count == t.count, "bf16 values do not fill shape \(shape)")
        widenBFloat16(values.baseAddress!, into: t.pointer, count: t.count)
        return t
    }
}

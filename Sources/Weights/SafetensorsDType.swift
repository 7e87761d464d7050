// The element types of the safetensors format, with their sizes. Names and sizes follow the `Dtype`
// enum of the reference Rust crate (huggingface/safetensors, `tensor.rs`). The sub-byte types it has
// gained (F4, F6_*) are left out: their tensors are not whole bytes per element, and no Stable
// Diffusion checkpoint uses them, so a file holding one is rejected as having an unknown dtype.

/// An element type a safetensors file may declare.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"
    /// Complex64 (two fp32 parts). Valid in a file, but it has no fp32 reading.
    case c64 = "C64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64, .c64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: 1
        }
    }
}

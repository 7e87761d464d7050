// Deterministic test tensors: uniform values in [−1, 1) from a 64-bit LCG. Tests need variety and
// reproducibility, not statistics, and no fixture file.
import Tensor

/// A tensor of `shape` filled with uniform values in [−1, 1), the same for the same seed.
public func uniformTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    let t = Tensor(uninitialized: shape)
    for i in 0..<t.count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        t.pointer[i] = Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
    }
    return t
}

// `torch.randn(shape, generator: g)` in fp32, bit for bit. PyTorch's CPU normal kernel takes one of
// two paths by size (aten/src/ATen/native/cpu/DistributionTemplates.h, `normal_kernel`):
//
// - 16 values or more (contiguous fp32): `normal_fill`. First ALL the uniforms are drawn (24-bit
//   floats, one engine output each), then each block of 16 becomes 16 normals by Box–Muller in float,
//   pairing element j with element j + 8. When the count is not a multiple of 16, the last 16
//   positions are refilled with 16 FRESH uniforms and transformed again, overwriting the tail of the
//   last full block. The scalar Box–Muller cache is neither read nor written.
// - fewer than 16: `normal_distribution<double>` per element. Each pair of 53-bit double uniforms
//   gives r·cos θ (returned) and r·sin θ (cached in the generator for the next scalar draw, even
//   across calls); each value is computed in double and rounded to float.
//
// The float Box–Muller exists twice in PyTorch: x86 builds with AVX2 or AVX-512 run the vectorised
// `normal_fill_16_AVX2` (Cephes polynomials for log/sin/cos, θ formed in float; see
// CephesVectorMath), every other build the scalar `normal_fill_16` (libm's logf/cosf/sinf, θ formed
// in double). They differ in the last bits (up to ~40 ulp where cos θ ≈ 0), so the generator lets you
// pick; the default is the x86 one, which is what diffusers users run.
import Foundation
import Tensor

extension TorchGenerator {
    /// `torch.randn(shape, generator: g)` (fp32, contiguous).
    public mutating func randn(_ shape: [Int]) -> Tensor {
        let out = Tensor(uninitialized: shape)
        fillNormal(out.buffer)
        return out
    }

    /// Fills `values` with standard normals exactly as `values.normal_(0, 1, generator: g)` does on
    /// a contiguous fp32 tensor of that many elements.
    public mutating func fillNormal(_ values: UnsafeMutableBufferPointer<Float>) {
        let count = values.count
        guard count >= 16 else {
            for i in 0..<count { values[i] = Float(scalarNormal()) }
            return
        }
        for i in 0..<count { values[i] = uniformFloat() }
        guard let base = values.baseAddress else { return }
        var start = 0
        while start + 16 <= count {
            boxMuller16(base + start)
            start += 16
        }
        if count % 16 != 0 {
            let tail = base + (count - 16)
            for i in 0..<16 { tail[i] = uniformFloat() }
            boxMuller16(tail)
        }
    }

    /// One standard normal from the scalar path (`normal_distribution<double>`), in double.
    public mutating func scalarNormal() -> Double {
        if let cached = cachedNormal {
            cachedNormal = nil
            return cached
        }
        let u1 = uniformDouble()
        let u2 = uniformDouble()
        // log1p(−u2) rather than log(1 − u2): u2 is in [0, 1), so the argument of the log stays
        // positive, and ATen writes it this way.
        let radius = (-2.0 * log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        cachedNormal = radius * sin(theta)
        return radius * cos(theta)
    }

    /// Turns 16 uniforms in place into 16 normals: element j (j < 8) pairs with element j + 8.
    private func boxMuller16(_ data: UnsafeMutablePointer<Float>) {
        switch normalKernel {
        case .vectorized:
            // normal_fill_16_AVX2: all in float; θ = fl(2π)·u2.
            let twoPi = Float(2 * Double.pi)
            for j in 0..<8 {
                let radius = (-2 * CephesVectorMath.log(1 - data[j])).squareRoot()
                let (sine, cosine) = CephesVectorMath.sincos(twoPi * data[j + 8])
                data[j] = radius * cosine
                data[j + 8] = radius * sine
            }
        case .scalar:
            // normal_fill_16: float, except θ, formed in double (2.0f · π in double, times u2).
            for j in 0..<8 {
                let u1: Float = 1 - data[j]  // [0, 1) → (0, 1], so the log is finite
                let radius = (-2 * Foundation.log(u1)).squareRoot()
                let theta = Float(2.0 * Double.pi * Double(data[j + 8]))
                data[j] = radius * Foundation.cos(theta)
                data[j + 8] = radius * Foundation.sin(theta)
            }
        }
    }
}

// Gradient clipping by the global L2 norm, as torch.nn.utils.clip_grad_norm_ does it: the norm of all
// gradients together; when it exceeds `maxNorm`, every gradient is scaled by maxNorm / (norm + 1e-6).
// The norm before clipping is what the trainer logs as `grad_norm`.
import Foundation
import Tensor

public enum GradientClipping {
    /// Scales `gradients` in place so that their global L2 norm is at most `maxNorm` (about), and
    /// returns the norm they had before. A non-finite norm leaves the gradients as they are: the caller
    /// decides whether to skip the step.
    @discardableResult
    public static func clipByGlobalNorm(_ gradients: UnsafeMutableBufferPointer<Float>, maxNorm: Double) -> Double {
        let norm = globalNorm(UnsafeBufferPointer(gradients))
        guard norm.isFinite else { return norm }
        // PyTorch: clip_coef = max_norm / (total_norm + 1e-6), clamped to at most 1, in fp32.
        let coefficient = coefficient(norm: norm, maxNorm: maxNorm)
        if coefficient < 1 { scale(gradients, by: coefficient) }
        return norm
    }

    /// The clipping coefficient for gradients of global norm `norm` (1 when no clipping is needed).
    public static func coefficient(norm: Double, maxNorm: Double) -> Float {
        Float(min(maxNorm / (norm + 1e-6), 1))
    }

    /// values ← values · s, in parallel chunks.
    public static func scale(_ values: UnsafeMutableBufferPointer<Float>, by s: Float) {
        guard let g = values.baseAddress else { return }
        ThreadPool.shared.parallelFor(values.count, grain: 1 << 16) { range in
            for i in range { g[i] *= s }
        }
    }

    /// The L2 norm of all values, accumulated in double per chunk so that a billion squares lose nothing.
    public static func globalNorm(_ values: UnsafeBufferPointer<Float>) -> Double {
        let chunk = 1 << 16
        let chunks = (values.count + chunk - 1) / chunk
        let partial = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(chunks, 1))
        defer { partial.deallocate() }
        partial.initialize(repeating: 0)
        let base = values.baseAddress
        ThreadPool.shared.parallelFor(chunks) { range in
            for c in range {
                var sum: Double = 0
                for i in (c * chunk)..<min(values.count, (c + 1) * chunk) {
                    let x = Double(base![i])
                    sum += x * x
                }
                partial[c] = sum
            }
        }
        return partial.reduce(0, +).squareRoot()
    }
}

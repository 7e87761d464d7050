// Element-wise arithmetic on one image's latents for the schedulers' update rules. Each update is
// written as a closure over single floats, in the same order of operations as diffusers' eager torch
// expressions (every intermediate rounded to fp32), which keeps the results within an ulp or two of
// diffusers'. Latents are small (4 × 64 × 64 at 512 px), so one pass per update costs nothing next
// to a UNet evaluation.
import Tensor

enum LatentArithmetic {
    /// A new tensor `f(a[i])`.
    @inline(__always)
    static func map(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitialized: a.shape)
        let x = a.pointer, y = out.pointer
        for i in 0..<a.count { y[i] = f(x[i]) }
        return out
    }

    /// A new tensor `f(a[i], b[i])`; `a` and `b` have the same element count.
    @inline(__always)
    static func map(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.count == b.count, "latents \(a.shape) and \(b.shape) differ in size")
        let out = Tensor(uninitialized: a.shape)
        let x = a.pointer, z = b.pointer, y = out.pointer
        for i in 0..<a.count { y[i] = f(x[i], z[i]) }
        return out
    }

    /// A new tensor `f(a[i], b[i], c[i])`; all three have the same element count.
    @inline(__always)
    static func map(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
        precondition(a.count == b.count && a.count == c.count, "latents \(a.shape), \(b.shape), \(c.shape) differ in size")
        let out = Tensor(uninitialized: a.shape)
        let x = a.pointer, z = b.pointer, w = c.pointer, y = out.pointer
        for i in 0..<a.count { y[i] = f(x[i], z[i], w[i]) }
        return out
    }
}

/// The x₀ and ε that a model output stands for, per `prediction_type`, as the k-diffusion style
/// schedulers (Euler, Heun, LMS) compute x₀ from σ.
enum SigmaPrediction {
    /// x₀ predicted from `modelOutput` at noise level σ for a sample in the σ-parameterisation.
    static func originalSample(_ type: PredictionType, modelOutput: Tensor, sample: Tensor, sigma: Float) -> Tensor {
        switch type {
        case .epsilon:
            return LatentArithmetic.map(sample, modelOutput) { s, m in s - sigma * m }
        case .vPrediction:
            // model_output · (−σ / √(σ² + 1)) + sample / (σ² + 1), with the scalars in fp32.
            let variance = sigma * sigma + 1
            let c = -sigma / variance.squareRoot()
            return LatentArithmetic.map(modelOutput, sample) { m, s in m * c + s / variance }
        case .sample:
            return modelOutput
        }
    }
}

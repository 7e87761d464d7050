// AdamW (Loshchilov & Hutter, decoupled weight decay) as torch.optim.AdamW computes it, stepping over
// one flat fp32 buffer that holds every trained parameter (llm.c's layout: one loop, no per-tensor
// bookkeeping). The order of operations follows PyTorch's single-tensor path so that a step here and
// there agree to float rounding:
//     p ← p·(1 − lr·λ)
//     m ← m + (1 − β₁)(g − m)               (lerp)
//     v ← v·β₂ + (1 − β₂)·g²
//     p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
import Foundation
import Tensor

/// AdamW's constants. Defaults are diffusers' `train_dreambooth.py` defaults.
public struct AdamWHyperparameters: Equatable, Sendable, Codable {
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    public var weightDecay: Double = 1e-2

    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 1e-2) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }
}

/// The optimizer and its state: the step count and the two moment estimates, one value per parameter.
public final class AdamW {
    public let hyperparameters: AdamWHyperparameters
    /// Optimizer steps taken so far (t in the bias corrections).
    public private(set) var stepCount: Int
    /// First moment estimate (PyTorch's `exp_avg`).  // [N]
    public let firstMoment: Tensor
    /// Second moment estimate (PyTorch's `exp_avg_sq`).  // [N]
    public let secondMoment: Tensor

    /// A fresh optimizer for `parameterCount` parameters (moments zero, no step taken).
    public init(parameterCount: Int, hyperparameters: AdamWHyperparameters = .init()) {
        self.hyperparameters = hyperparameters
        stepCount = 0
        firstMoment = Tensor(zeros: [parameterCount])
        secondMoment = Tensor(zeros: [parameterCount])
    }

    /// An optimizer resumed from saved state (a training checkpoint).
    public init(hyperparameters: AdamWHyperparameters, stepCount: Int, firstMoment: Tensor, secondMoment: Tensor) {
        precondition(firstMoment.count == secondMoment.count, "AdamW moments of different sizes")
        self.hyperparameters = hyperparameters
        self.stepCount = stepCount
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
    }

    public var parameterCount: Int { firstMoment.count }

    /// Takes over saved state (a training checkpoint's): the step count and both moments.
    public func restore(stepCount: Int, firstMoment first: Tensor, secondMoment second: Tensor) {
        precondition(first.count == parameterCount && second.count == parameterCount,
                     "AdamW state of \(first.count) values for \(parameterCount) parameters")
        self.stepCount = stepCount
        firstMoment.assign(first.reshaped(firstMoment.shape))
        secondMoment.assign(second.reshaped(secondMoment.shape))
    }

    /// One optimizer step: updates `parameters` in place from `gradients` at `learningRate`.
    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>,
                     learningRate: Double) {
        precondition(parameters.count == parameterCount && gradients.count == parameterCount,
                     "AdamW over \(parameterCount) parameters given \(parameters.count) and \(gradients.count) gradients")
        stepCount += 1
        let h = hyperparameters
        let t = Double(stepCount)
        // Scalars are formed in double, as Python does, and used in fp32, as PyTorch's kernels do.
        let decay = Float(1 - learningRate * h.weightDecay)
        let firstWeight = Float(1 - h.beta1)
        let beta2 = Float(h.beta2)
        let secondWeight = Float(1 - h.beta2)
        let stepSize = Float(learningRate / (1 - pow(h.beta1, t)))
        let correction2Root = Float((1 - pow(h.beta2, t)).squareRoot())
        let epsilon = Float(h.epsilon)

        let p = parameters.baseAddress!, g = gradients.baseAddress!
        let m = firstMoment.pointer, v = secondMoment.pointer
        // Memory-bound (four streams of N floats): split across the pool in large chunks.
        ThreadPool.shared.parallelFor(parameterCount, grain: 1 << 16) { range in
            for i in range {
                let gi = g[i]
                let pi = p[i] * decay
                let mi = m[i] + firstWeight * (gi - m[i])
                let vi = v[i] * beta2 + secondWeight * gi * gi
                let denominator = vi.squareRoot() / correction2Root + epsilon
                m[i] = mi
                v[i] = vi
                p[i] = pi + (-stepSize) * (mi / denominator)
            }
        }
    }
}

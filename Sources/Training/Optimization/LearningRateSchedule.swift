// Learning-rate schedules by the names diffusers' `get_scheduler` takes (train_dreambooth.py's
// `lr_scheduler`), with its formulas: a linear warm-up from 0, then the named decay. The learning rate
// of optimizer step k (counting from 0) is `learningRate(atStep: k)` — diffusers steps its LambdaLR after
// each optimizer step, so step 0 runs at the schedule's value for 0.
import Foundation

/// A learning rate as a function of the optimizer step.
public struct LearningRateSchedule: Equatable, Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        case constant
        case constantWithWarmup = "constant_with_warmup"
        case linear
        case cosine
        case cosineWithRestarts = "cosine_with_restarts"
        case polynomial
    }

    public var kind: Kind
    /// The rate after warm-up (`learning_rate`).
    public var baseLearningRate: Double
    /// Steps of linear warm-up from 0 (`lr_warmup_steps`). `constant` has none, as in diffusers.
    public var warmupSteps: Int
    /// The schedule's length (`max_train_steps`).
    public var totalSteps: Int
    /// Restarts of `cosine_with_restarts` (`lr_num_cycles`). Plain `cosine` ignores it, as
    /// diffusers' `get_scheduler` does: always half a period, from the base rate down to 0.
    public var cycles: Double
    /// Exponent of `polynomial` (`lr_power`).
    public var power: Double
    /// Where `polynomial` ends (diffusers' fixed `lr_end`).
    public static let polynomialEnd = 1e-7

    public init(kind: Kind, baseLearningRate: Double, warmupSteps: Int = 0, totalSteps: Int,
                cycles: Double = 1, power: Double = 1) {
        self.kind = kind; self.baseLearningRate = baseLearningRate; self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps; self.cycles = cycles; self.power = power
    }

    /// The learning rate of optimizer step `step` (0-based).
    public func learningRate(atStep step: Int) -> Double {
        baseLearningRate * multiplier(atStep: step)
    }

    /// The factor applied to the base rate at `step`.
    public func multiplier(atStep step: Int) -> Double {
        let s = Double(step), warmup = Double(warmupSteps), total = Double(totalSteps)
        if kind != .constant, step < warmupSteps { return s / max(1, warmup) }
        let progress = (s - warmup) / max(1, total - warmup)
        switch kind {
        case .constant, .constantWithWarmup:
            return 1
        case .linear:
            return max(0, (total - s) / max(1, total - warmup))
        case .cosine:
            return max(0, 0.5 * (1 + cos(Double.pi * progress)))
        case .cosineWithRestarts:
            if progress >= 1 { return 0 }
            return max(0, 0.5 * (1 + cos(Double.pi * (cycles * progress).truncatingRemainder(dividingBy: 1))))
        case .polynomial:
            let end = Self.polynomialEnd
            if step > totalSteps { return end / baseLearningRate }
            let remaining = 1 - (s - warmup) / (total - warmup)
            return ((baseLearningRate - end) * pow(remaining, power) + end) / baseLearningRate
        }
    }
}

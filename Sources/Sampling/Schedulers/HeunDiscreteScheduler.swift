// Heun's method (the 2nd-order trapezoidal rule) on the probability-flow ODE in σ (Karras et al. 2022,
// Algorithm 1 without churn), sampler name `heun`. Follows diffusers' HeunDiscreteScheduler, which
// spreads each step over two calls: its `timesteps` list every inner σ twice (an Euler predictor at
// σ_i → σ_{i+1}, then the corrector evaluated at σ_{i+1}), and the last step is Euler alone because
// σ = 0 cannot be evaluated. So `steps` denoising steps take 2·steps − 1 model evaluations.
import Tensor

/// diffusers' `HeunDiscreteScheduler`.
public struct HeunDiscreteScheduler: Scheduler {
    public let className = "HeunDiscreteScheduler"
    public let inferenceSteps: Int
    public let order = 2
    public let timesteps: [Float]
    public let sigmas: [Float]
    public let initNoiseSigma: Float
    public let predictionType: PredictionType
    private let clipRange: Float?

    /// The predictor's state between the two calls of one step: its slope, its Δσ and its start.
    private var pending: (derivative: Tensor, dt: Float, sample: Tensor)?

    /// A Heun scheduler for `steps` denoising steps.
    public init(configuration: SchedulerConfiguration, steps: Int) throws(SchedulerError) {
        let name = "HeunDiscreteScheduler"
        try configuration.requireOff(configuration.useExponentialSigmas, key: "use_exponential_sigmas", scheduler: name)
        try configuration.requireOff(configuration.useBetaSigmas, key: "use_beta_sigmas", scheduler: name)
        predictionType = try configuration.resolved(configuration.predictionType, key: "prediction_type",
                                                    default: .epsilon, allowed: PredictionType.allCases, scheduler: name)
        let schedule = try TrainingNoiseSchedule(configuration, defaults: .heun, scheduler: name,
                                                 allowsZeroTerminalSNR: false, clampsTerminalAlpha: false)
        guard steps >= 1 && steps <= schedule.count else { throw .invalidStepCount(steps: steps, maximum: schedule.count) }
        let spacing = try configuration.resolved(configuration.timestepSpacing, key: "timestep_spacing",
                                                 default: TimestepSpacing.linspace, allowed: TimestepSpacing.allCases, scheduler: name)
        clipRange = (configuration.clipSample ?? false) ? Float(configuration.clipSampleRange ?? 1) : nil
        let (stepTimesteps, stepSigmas) = SigmaSchedule.discrete(
            spacing, steps: steps, schedule: schedule, offset: configuration.stepsOffset ?? 0,
            karras: configuration.useKarrasSigmas ?? false)
        // σ: [σ0, σ1, σ1, …, σ_{n−1}, σ_{n−1}, 0]; timesteps: [t0, t1, t1, …, t_{n−1}, t_{n−1}].
        let levels = stepSigmas.map(Float.init) + [0]
        sigmas = [levels[0]] + levels.dropFirst().dropLast().flatMap { [$0, $0] } + [0]
        timesteps = [stepTimesteps[0]] + stepTimesteps.dropFirst().flatMap { [$0, $0] }
        inferenceSteps = steps
        initNoiseSigma = SigmaSchedule.initNoiseSigma(sigmas, spacing: spacing)
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor {
        let scale = SigmaSchedule.inputScale(sigmas[stepIndex])
        return LatentArithmetic.map(sample) { $0 / scale }
    }

    public mutating func step(modelOutput: Tensor, stepIndex i: Int, sample: Tensor,
                              generator: inout TorchGenerator) -> Tensor {
        if let predictor = pending {
            // Corrector: the model was evaluated at the predicted point, σ = sigmas[i]; average slopes.
            let sigmaNext = sigmas[i]
            let original = clipped(SigmaPrediction.originalSample(predictionType, modelOutput: modelOutput,
                                                                  sample: sample, sigma: sigmaNext))
            let derivative = LatentArithmetic.map(sample, original, predictor.derivative) { s, x0, d in
                (d + (s - x0) / sigmaNext) / 2
            }
            pending = nil
            let dt = predictor.dt
            return LatentArithmetic.map(predictor.sample, derivative) { s, d in s + d * dt }
        }
        // Predictor: an Euler step from sigmas[i] to sigmas[i + 1].
        let sigma = sigmas[i], sigmaNext = sigmas[i + 1]
        let original = clipped(SigmaPrediction.originalSample(predictionType, modelOutput: modelOutput,
                                                              sample: sample, sigma: sigma))
        let derivative = LatentArithmetic.map(sample, original) { s, x0 in (s - x0) / sigma }
        let dt = sigmaNext - sigma
        // At σ_next = 0 there is no corrector: diffusers still records the predictor, but the loop ends.
        if i + 1 < timesteps.count { pending = (derivative, dt, sample) }
        return LatentArithmetic.map(sample, derivative) { s, d in s + d * dt }
    }

    private func clipped(_ original: Tensor) -> Tensor {
        guard let r = clipRange else { return original }
        return LatentArithmetic.map(original) { min(max($0, -r), r) }
    }

    public func addNoise(original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        let sigma = sigmas[stepIndex]
        return LatentArithmetic.map(original, noise) { x, n in x + n * sigma }
    }
}

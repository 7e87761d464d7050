// Euler's method on the probability-flow ODE in σ (Karras et al. 2022, Algorithm 2 without churn),
// sampler name `euler`. Follows diffusers' EulerDiscreteScheduler with the pipeline's defaults
// (s_churn = 0, so no noise is added and the generator is not touched).
import Tensor

/// diffusers' `EulerDiscreteScheduler`.
public struct EulerDiscreteScheduler: Scheduler {
    public let className = "EulerDiscreteScheduler"
    public let inferenceSteps: Int
    public let order = 1
    public let timesteps: [Float]
    public let sigmas: [Float]
    public let initNoiseSigma: Float
    public let predictionType: PredictionType

    /// An Euler scheduler for `steps` denoising steps.
    public init(configuration: SchedulerConfiguration, steps: Int) throws(SchedulerError) {
        let name = "EulerDiscreteScheduler"
        try configuration.requireOff(configuration.useExponentialSigmas, key: "use_exponential_sigmas", scheduler: name)
        try configuration.requireOff(configuration.useBetaSigmas, key: "use_beta_sigmas", scheduler: name)
        if let interpolation = configuration.interpolationType, interpolation != "linear" {
            throw .unsupportedValue(key: "interpolation_type", value: interpolation, scheduler: name)
        }
        predictionType = try configuration.resolved(configuration.predictionType, key: "prediction_type",
                                                    default: .epsilon, allowed: PredictionType.allCases, scheduler: name)
        // Continuous timesteps (0.25·log σ) only take effect together with v-prediction.
        if configuration.timestepType == "continuous" && predictionType == .vPrediction {
            throw .unsupportedValue(key: "timestep_type", value: "continuous", scheduler: name)
        }
        let schedule = try TrainingNoiseSchedule(configuration, defaults: .common, scheduler: name,
                                                 allowsZeroTerminalSNR: true, clampsTerminalAlpha: true)
        guard steps >= 1 && steps <= schedule.count else { throw .invalidStepCount(steps: steps, maximum: schedule.count) }
        let spacing = try configuration.resolved(configuration.timestepSpacing, key: "timestep_spacing",
                                                 default: TimestepSpacing.linspace, allowed: TimestepSpacing.allCases, scheduler: name)
        let finalType = try configuration.resolved(configuration.finalSigmasType, key: "final_sigmas_type",
                                                   default: FinalSigmasType.zero, allowed: FinalSigmasType.allCases, scheduler: name)
        let (timesteps, sigmas) = SigmaSchedule.discrete(
            spacing, steps: steps, schedule: schedule, offset: configuration.stepsOffset ?? 0,
            karras: configuration.useKarrasSigmas ?? false,
            karrasRange: (configuration.sigmaMin, configuration.sigmaMax))
        let finalSigma: Float = finalType == .zero ? 0 : schedule.sigmas[0]
        inferenceSteps = steps
        self.timesteps = timesteps
        self.sigmas = sigmas.map(Float.init) + [finalSigma]
        initNoiseSigma = SigmaSchedule.initNoiseSigma(self.sigmas, spacing: spacing)
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor {
        let scale = SigmaSchedule.inputScale(sigmas[stepIndex])
        return LatentArithmetic.map(sample) { $0 / scale }
    }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor,
                              generator: inout TorchGenerator) -> Tensor {
        let sigma = sigmas[stepIndex]
        let original = SigmaPrediction.originalSample(predictionType, modelOutput: modelOutput, sample: sample, sigma: sigma)
        // dx/dσ = (x − x₀)/σ, one Euler step to the next σ.
        let dt = sigmas[stepIndex + 1] - sigma
        return LatentArithmetic.map(sample, original) { s, x0 in s + ((s - x0) / sigma) * dt }
    }

    public func addNoise(original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        let sigma = sigmas[stepIndex]
        return LatentArithmetic.map(original, noise) { x, n in x + n * sigma }
    }
}

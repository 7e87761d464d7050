// DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models"), sampler name `ddim`.
// Follows diffusers' DDIMScheduler: deterministic for η = 0; for η > 0 each step adds σ_t·z with
// z = randn(sample shape) drawn from the image's generator, as diffusers does when the pipeline passes
// its generator. Like diffusers, the previous timestep is always t − T/steps (integer division), also
// for "linspace" and "trailing" spacing.
import Tensor

/// diffusers' `DDIMScheduler`.
public struct DDIMScheduler: Scheduler {
    public let className = "DDIMScheduler"
    public let inferenceSteps: Int
    public let order = 1
    public let timesteps: [Float]
    public let sigmas: [Float] = []
    public let initNoiseSigma: Float = 1
    /// η: 0 is deterministic DDIM; 1 matches DDPM's posterior variance.
    public let eta: Float

    private let alphasCumprod: [Float]
    /// ᾱ used after the last step (1, or ᾱ₀ when `set_alpha_to_one` is false).
    private let finalAlphaCumprod: Float
    public let predictionType: PredictionType
    private let clipRange: Float?
    private let trainSteps: Int

    /// A DDIM scheduler for `steps` denoising steps.
    public init(configuration: SchedulerConfiguration, steps: Int, eta: Double = 0) throws(SchedulerError) {
        let name = "DDIMScheduler"
        try configuration.requireOff(configuration.thresholding, key: "thresholding", scheduler: name)
        let schedule = try TrainingNoiseSchedule(configuration, defaults: .common, scheduler: name,
                                                 allowsZeroTerminalSNR: true, clampsTerminalAlpha: false)
        guard steps >= 1 && steps <= schedule.count else { throw .invalidStepCount(steps: steps, maximum: schedule.count) }
        let spacing = try configuration.resolved(configuration.timestepSpacing, key: "timestep_spacing",
                                                 default: TimestepSpacing.leading, allowed: TimestepSpacing.allCases, scheduler: name)
        predictionType = try configuration.resolved(configuration.predictionType, key: "prediction_type",
                                                    default: .epsilon, allowed: PredictionType.allCases, scheduler: name)
        inferenceSteps = steps
        trainSteps = schedule.count
        alphasCumprod = schedule.alphasCumprod
        finalAlphaCumprod = (configuration.setAlphaToOne ?? true) ? 1 : schedule.alphasCumprod[0]
        clipRange = (configuration.clipSample ?? true) ? Float(configuration.clipSampleRange ?? 1) : nil
        self.eta = Float(eta)
        timesteps = InferenceTimesteps.standard(spacing, steps: steps, trainSteps: schedule.count,
                                                offset: configuration.stepsOffset ?? 0, integral: true).map(Float.init)
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor,
                              generator: inout TorchGenerator) -> Tensor {
        let t = Int(timesteps[stepIndex])
        let previous = t - trainSteps / inferenceSteps
        let alpha = alphasCumprod[t]
        let alphaPrevious = previous >= 0 ? alphasCumprod[previous] : finalAlphaCumprod
        let beta = 1 - alpha
        let rootAlpha = alpha.squareRoot(), rootBeta = beta.squareRoot()

        // (x₀, ε) from the model output.
        var original: Tensor, epsilon: Tensor
        switch predictionType {
        case .epsilon:
            original = LatentArithmetic.map(sample, modelOutput) { s, m in (s - rootBeta * m) / rootAlpha }
            epsilon = modelOutput
        case .sample:
            original = modelOutput
            epsilon = LatentArithmetic.map(sample, modelOutput) { s, m in (s - rootAlpha * m) / rootBeta }
        case .vPrediction:
            original = LatentArithmetic.map(sample, modelOutput) { s, m in rootAlpha * s - rootBeta * m }
            epsilon = LatentArithmetic.map(sample, modelOutput) { s, m in rootAlpha * m + rootBeta * s }
        }
        if let r = clipRange { original = LatentArithmetic.map(original) { min(max($0, -r), r) } }

        // Eq. (12) of the paper, with σ_t = η·√variance.
        let variance = ((1 - alphaPrevious) / beta) * (1 - alpha / alphaPrevious)
        let deviation = eta * variance.squareRoot()
        let direction = (1 - alphaPrevious - deviation * deviation).squareRoot()
        let rootAlphaPrevious = alphaPrevious.squareRoot()
        var previousSample = LatentArithmetic.map(original, epsilon) { x0, e in rootAlphaPrevious * x0 + direction * e }
        if eta > 0 {
            let noise = generator.randn(modelOutput.shape)
            previousSample = LatentArithmetic.map(previousSample, noise) { x, z in x + deviation * z }
        }
        return previousSample
    }

    public func alphaBar(stepIndex: Int) -> Float { alphasCumprod[Int(timesteps[stepIndex])] }

    public func addNoise(original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        let alpha = alphasCumprod[Int(timesteps[stepIndex])]
        let a = alpha.squareRoot(), b = (1 - alpha).squareRoot()
        return LatentArithmetic.map(original, noise) { x, n in a * x + b * n }
    }
}

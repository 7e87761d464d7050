// Euler ancestral sampling (k-diffusion's `sample_euler_ancestral`), sampler name `euler_a`, the
// daemon's default. Follows diffusers' EulerAncestralDiscreteScheduler: each step goes deterministically
// down to σ_down and adds fresh noise of size σ_up, with σ_down² + σ_up² = σ_next². The noise is one
// `randn` of the latents' shape per step from the image's generator — also on the last step, where
// σ_up = 0 — exactly as diffusers draws it.
import Tensor

/// diffusers' `EulerAncestralDiscreteScheduler`.
public struct EulerAncestralDiscreteScheduler: Scheduler {
    public let className = "EulerAncestralDiscreteScheduler"
    public let inferenceSteps: Int
    public let order = 1
    public let timesteps: [Float]
    public let sigmas: [Float]
    public let initNoiseSigma: Float
    public let predictionType: PredictionType

    /// An Euler ancestral scheduler for `steps` denoising steps.
    public init(configuration: SchedulerConfiguration, steps: Int) throws(SchedulerError) {
        let name = "EulerAncestralDiscreteScheduler"
        predictionType = try configuration.resolved(configuration.predictionType, key: "prediction_type",
                                                    default: .epsilon, allowed: [.epsilon, .vPrediction], scheduler: name)
        let schedule = try TrainingNoiseSchedule(configuration, defaults: .common, scheduler: name,
                                                 allowsZeroTerminalSNR: true, clampsTerminalAlpha: true)
        guard steps >= 1 && steps <= schedule.count else { throw .invalidStepCount(steps: steps, maximum: schedule.count) }
        let spacing = try configuration.resolved(configuration.timestepSpacing, key: "timestep_spacing",
                                                 default: TimestepSpacing.linspace, allowed: TimestepSpacing.allCases, scheduler: name)
        // This class has no Karras option: `use_karras_sigmas` in the file is ignored, as by from_config.
        let (timesteps, sigmas) = SigmaSchedule.discrete(spacing, steps: steps, schedule: schedule,
                                                         offset: configuration.stepsOffset ?? 0, karras: false)
        inferenceSteps = steps
        self.timesteps = timesteps
        self.sigmas = sigmas.map(Float.init) + [0]
        initNoiseSigma = SigmaSchedule.initNoiseSigma(self.sigmas, spacing: spacing)
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor {
        let scale = SigmaSchedule.inputScale(sigmas[stepIndex])
        return LatentArithmetic.map(sample) { $0 / scale }
    }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor,
                              generator: inout TorchGenerator) -> Tensor {
        let sigma = sigmas[stepIndex], next = sigmas[stepIndex + 1]
        let original = SigmaPrediction.originalSample(predictionType, modelOutput: modelOutput, sample: sample, sigma: sigma)
        let sigmaUp = (next * next * (sigma * sigma - next * next) / (sigma * sigma)).squareRoot()
        let sigmaDown = (next * next - sigmaUp * sigmaUp).squareRoot()
        let dt = sigmaDown - sigma
        let deterministic = LatentArithmetic.map(sample, original) { s, x0 in s + ((s - x0) / sigma) * dt }
        let noise = generator.randn(modelOutput.shape)
        return LatentArithmetic.map(deterministic, noise) { x, z in x + z * sigmaUp }
    }

    public func addNoise(original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        let sigma = sigmas[stepIndex]
        return LatentArithmetic.map(original, noise) { x, n in x + n * sigma }
    }
}

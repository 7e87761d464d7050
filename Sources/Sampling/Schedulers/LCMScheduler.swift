// Latent Consistency Models (Luo et al. 2023), sampler name `lcm`: diffusers' LCMScheduler, which an
// LCM-distilled model or an LCM-LoRA needs to render in 2–8 steps (at guidance ≤ 2). Each step maps the
// latents to a consistency-function estimate of x₀ — the model's x₀ blended with the input through the
// boundary-condition scalings c_skip, c_out — and, except at the last step, noises that estimate
// afresh to the next timestep with randn from the image's generator (multistep consistency sampling).
//
// Timesteps: the distillation schedule has `original_inference_steps` (50) evenly spaced timesteps
// k·i − 1, k = num_train_timesteps / 50; an n-step render takes n of them at evenly spaced indices
// (⌊i · 50/n⌋ from the top), so n ≤ 50. `timestep_spacing` and `steps_offset` do not apply.
import Foundation
import Tensor

/// diffusers' `LCMScheduler`.
public struct LCMScheduler: Scheduler {
    public let className = "LCMScheduler"
    public let inferenceSteps: Int
    public let order = 1
    public let timesteps: [Float]
    public let sigmas: [Float] = []
    public let initNoiseSigma: Float = 1

    /// σ_data of the consistency parameterisation (fixed in diffusers).
    static let sigmaData = 0.5

    private let alphasCumprod: [Float]
    public let predictionType: PredictionType
    private let clipRange: Float?
    private let timestepScaling: Double

    /// An LCM scheduler for `steps` denoising steps (1 … `original_inference_steps`).
    public init(configuration: SchedulerConfiguration, steps: Int) throws(SchedulerError) {
        let name = "LCMScheduler"
        try configuration.requireOff(configuration.thresholding, key: "thresholding", scheduler: name)
        let schedule = try TrainingNoiseSchedule(configuration, defaults: .lcm, scheduler: name,
                                                 allowsZeroTerminalSNR: true, clampsTerminalAlpha: false)
        predictionType = try configuration.resolved(configuration.predictionType, key: "prediction_type",
                                                    default: .epsilon, allowed: PredictionType.allCases, scheduler: name)
        let originalSteps = configuration.originalInferenceSteps ?? 50
        guard originalSteps >= 1 && originalSteps <= schedule.count else {
            throw .unsupportedValue(key: "original_inference_steps", value: "\(originalSteps)", scheduler: name)
        }
        guard steps >= 1 && steps <= originalSteps else { throw .invalidStepCount(steps: steps, maximum: originalSteps) }
        inferenceSteps = steps
        alphasCumprod = schedule.alphasCumprod
        clipRange = (configuration.clipSample ?? false) ? Float(configuration.clipSampleRange ?? 1) : nil
        timestepScaling = configuration.timestepScaling ?? 10
        timesteps = Self.timesteps(steps: steps, originalSteps: originalSteps, trainSteps: schedule.count).map(Float.init)
    }

    /// The n-step schedule: n of the distillation schedule's timesteps, from the top, at indices
    /// ⌊i · (50 / n)⌋ computed in doubles as NumPy's `linspace(0, 50, n, endpoint=False)` is.
    static func timesteps(steps: Int, originalSteps: Int, trainSteps: Int) -> [Int] {
        let k = trainSteps / originalSteps
        let distillation = (1...originalSteps).reversed().map { $0 * k - 1 }
        let spacing = Double(originalSteps) / Double(steps)
        return (0..<steps).map { distillation[Int((Double($0) * spacing).rounded(.down))] }
    }

    /// (c_skip, c_out) at timestep `t`: the boundary condition that makes the consistency function the
    /// identity at t = 0; `timestep_scaling` sharpens the transition.
    func boundaryScalings(timestep t: Int) -> (skip: Double, out: Double) {
        let scaled = Double(t) * timestepScaling
        let denominator = scaled * scaled + Self.sigmaData * Self.sigmaData
        return (Self.sigmaData * Self.sigmaData / denominator, scaled / denominator.squareRoot())
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor,
                              generator: inout TorchGenerator) -> Tensor {
        let t = Int(timesteps[stepIndex])
        let isLast = stepIndex == inferenceSteps - 1
        // The last step "moves" to its own timestep: its ᾱ_prev is never used (no noise is added).
        let previous = isLast ? t : Int(timesteps[stepIndex + 1])
        let alpha = alphasCumprod[t], alphaPrevious = alphasCumprod[previous]
        let rootAlpha = alpha.squareRoot(), rootBeta = (1 - alpha).squareRoot()

        var original: Tensor
        switch predictionType {
        case .epsilon: original = LatentArithmetic.map(sample, modelOutput) { s, m in (s - rootBeta * m) / rootAlpha }
        case .sample: original = modelOutput
        case .vPrediction: original = LatentArithmetic.map(sample, modelOutput) { s, m in rootAlpha * s - rootBeta * m }
        }
        if let r = clipRange { original = LatentArithmetic.map(original) { min(max($0, -r), r) } }

        // diffusers multiplies fp32 tensors by Python floats: the scalings round to fp32 first.
        let (skip, out) = boundaryScalings(timestep: t)
        let cSkip = Float(skip), cOut = Float(out)
        let denoised = LatentArithmetic.map(original, sample) { x0, s in cOut * x0 + cSkip * s }
        guard !isLast else { return denoised }
        let noise = generator.randn(modelOutput.shape)
        let a = alphaPrevious.squareRoot(), b = (1 - alphaPrevious).squareRoot()
        return LatentArithmetic.map(denoised, noise) { d, z in a * d + b * z }
    }

    public func alphaBar(stepIndex: Int) -> Float { alphasCumprod[Int(timesteps[stepIndex])] }

    public func addNoise(original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        let alpha = alphasCumprod[Int(timesteps[stepIndex])]
        let a = alpha.squareRoot(), b = (1 - alpha).squareRoot()
        return LatentArithmetic.map(original, noise) { x, n in a * x + b * n }
    }
}

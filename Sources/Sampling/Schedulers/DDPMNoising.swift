// The forward (noising) process training uses, as diffusers' DDPMScheduler computes it:
//   add_noise:     x_t = √ᾱ_t · x₀ + √(1 − ᾱ_t) · ε
//   get_velocity:  v   = √ᾱ_t · ε  − √(1 − ᾱ_t) · x₀
//   compute_snr:   SNR = (√ᾱ_t / √(1 − ᾱ_t))²
// with ᾱ from the model's scheduler_config.json under DDPMScheduler's defaults (train_dreambooth.py
// builds its noise scheduler with `DDPMScheduler.from_pretrained(…, subfolder="scheduler")`).
import Foundation
import Tensor

/// DDPM's noising of clean latents at training timesteps.
public struct DDPMNoising: Sendable {
    /// ᾱ_t for t = 0 ..< training timesteps, fp32 as diffusers keeps them.
    public let alphasCumprod: [Float]
    /// What the UNet is trained to predict (`prediction_type`).
    public let predictionType: PredictionType

    public init(configuration: SchedulerConfiguration) throws(SchedulerError) {
        let schedule = try TrainingNoiseSchedule(configuration, defaults: .common, scheduler: "DDPMScheduler",
                                                 allowsZeroTerminalSNR: true, clampsTerminalAlpha: false)
        alphasCumprod = schedule.alphasCumprod
        predictionType = try configuration.resolved(configuration.predictionType, key: "prediction_type",
                                                    default: .epsilon, allowed: PredictionType.allCases, scheduler: "DDPMScheduler")
    }

    public var trainTimesteps: Int { alphasCumprod.count }

    /// √ᾱ_t · x₀ + √(1 − ᾱ_t) · ε for each sample n at timesteps[n]; x₀ and ε are [N, ...].
    public func addNoise(_ clean: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        combine(clean, noise, timesteps) { alpha, sigma in (alpha, sigma) }
    }

    /// The v-prediction target √ᾱ_t · ε − √(1 − ᾱ_t) · x₀.
    public func velocity(_ clean: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        combine(clean, noise, timesteps) { alpha, sigma in (-sigma, alpha) }
    }

    /// The signal-to-noise ratio of each timestep, computed as diffusers' `compute_snr` does.
    public func signalToNoiseRatio(_ timesteps: [Int]) -> [Float] {
        timesteps.map { t in
            let alpha = alphasCumprod[t].squareRoot(), sigma = (1 - alphasCumprod[t]).squareRoot()
            let ratio = alpha / sigma
            return ratio * ratio
        }
    }

    /// out[n] = a(t)·clean[n] + b(t)·noise[n], with (a, b) from (√ᾱ, √(1 − ᾱ)).
    private func combine(_ clean: Tensor, _ noise: Tensor, _ timesteps: [Int],
                         _ coefficients: (Float, Float) -> (Float, Float)) -> Tensor {
        precondition(clean.shape == noise.shape && clean.shape.first == timesteps.count,
                     "DDPM noising: clean \(clean.shape), noise \(noise.shape), \(timesteps.count) timesteps")
        let out = Tensor(uninitialized: clean.shape)
        let perSample = clean.count / max(timesteps.count, 1)
        for (n, t) in timesteps.enumerated() {
            precondition(t >= 0 && t < trainTimesteps, "timestep \(t) outside 0..<\(trainTimesteps)")
            let (a, b) = coefficients(alphasCumprod[t].squareRoot(), (1 - alphasCumprod[t]).squareRoot())
            let x = clean.pointer + n * perSample, e = noise.pointer + n * perSample, o = out.pointer + n * perSample
            for i in 0..<perSample { o[i] = a * x[i] + b * e[i] }
        }
        return out
    }
}

// One optimisation step of the VAE (see VAELoss.swift): encode, sample the posterior with the
// given ε, decode, loss, then the decoder's and encoder's pullbacks; gradients add up over
// micro-batches, and `applyGradients` clips the global norm and steps AdamW, as the DreamBooth step.
// With the encoder frozen (decoder-only fine-tuning, as Stability's ft-MSE VAE decoders were made)
// the latent space a UNet was trained in stays exactly as it was: only how latents are drawn changes.
// The encoder then runs without its pullback and gets no gradient, so AdamW (no weight decay) leaves
// its weights untouched.
import Foundation
import Models
import Tensor
import Weights

/// A VAE on a parameter arena, its optimizer, and the step.
public final class VAETrainingStep: CheckpointedTraining {
    public let vae: AutoencoderKL
    public let parameters: ParameterArena
    public let loss: VAELoss
    public let maxGradNorm: Double
    public let optimizer: AdamW
    /// Whether the encoder is trained too; false freezes it (and with it the KL term, which only it sees).
    public let trainsEncoder: Bool

    /// The one trained network, for checkpoints.
    public var trainedParts: [(name: String, arena: ParameterArena, optimizer: AdamW)] { [("vae", parameters, optimizer)] }

    /// Copies the VAE's weights out of `checkpoint` into an arena.
    public init(checkpoint: ModelCheckpoint, loss: VAELoss, optimizer hyperparameters: AdamWHyperparameters, maxGradNorm: Double,
                trainsEncoder: Bool = true) throws {
        let configuration = checkpoint.configurations.vae
        (vae, parameters) = try ParameterArena.build(from: checkpoint.source(.vae)) {
            try AutoencoderKL(configuration: configuration, parameters: $0)
        }
        self.loss = loss
        self.maxGradNorm = maxGradNorm
        self.trainsEncoder = trainsEncoder
        optimizer = AdamW(parameterCount: parameters.values.count, hyperparameters: hyperparameters)
        parameters.zeroGradients()
    }

    /// Forward and backward of `images` [B, 3, H, W] in [−1, 1] with posterior noise `sample`
    /// (shaped as the latents); gradients (× `gradientScale`) add into the arena.
    @discardableResult
    public func accumulate(_ images: Tensor, sample: Tensor, gradientScale: Double = 1) -> VAELoss.Value {
        let mean: Tensor, logVariance: Tensor, encodePullback: AutoencoderKL.EncodePullback?
        if trainsEncoder {
            let encoded = vae.encodeWithPullback(images, arena: parameters)
            (mean, logVariance, encodePullback) = (encoded.mean, encoded.logVariance, encoded.pullback)
        } else {
            (mean, logVariance) = vae.encode(images)
            encodePullback = nil
        }
        precondition(sample.shape == mean.shape, "posterior noise \(sample.shape) for latents \(mean.shape)")
        let latents = Tensor(uninitialized: mean.shape)
        let std = Tensor(uninitialized: mean.shape)
        for i in 0..<latents.count {
            std.pointer[i] = Foundation.exp(0.5 * logVariance.pointer[i])
            latents.pointer[i] = mean.pointer[i] + std.pointer[i] * sample.pointer[i]
        }
        let (reconstruction, decodePullback) = vae.decodeWithPullback(latents, arena: parameters)
        let value = loss.evaluate(reconstruction: reconstruction, target: images, mean: mean, logVariance: logVariance)
        if gradientScale != 1 {
            for t in [value.gradReconstruction, value.gradMean, value.gradLogVariance] { Scale.forwardInPlace(t, by: Float(gradientScale)) }
        }
        let gradLatents = decodePullback(value.gradReconstruction)
        guard let encodePullback else { return value }
        // z = μ + σ·ε: ∂z/∂μ = 1, ∂z/∂log σ² = ½·σ·ε; the KL terms add their own.
        let gradMean = value.gradMean, gradLogVariance = value.gradLogVariance
        for i in 0..<gradLatents.count {
            gradMean.pointer[i] += gradLatents.pointer[i]
            gradLogVariance.pointer[i] += gradLatents.pointer[i] * 0.5 * std.pointer[i] * sample.pointer[i]
        }
        _ = encodePullback(gradMean, gradLogVariance)
        return value
    }

    /// Clips the accumulated gradients to `maxGradNorm`, steps AdamW at `learningRate`, zeroes the
    /// gradients; returns the norm before clipping.
    public func applyGradients(learningRate: Double) -> Double {
        let gradients = UnsafeMutableBufferPointer(start: parameters.gradients.base, count: parameters.gradients.count)
        let norm = GradientClipping.globalNorm(UnsafeBufferPointer(gradients))
        let coefficient = GradientClipping.coefficient(norm: norm, maxNorm: maxGradNorm)
        if coefficient < 1 { GradientClipping.scale(gradients, by: coefficient) }
        optimizer.step(parameters: UnsafeMutableBufferPointer(start: parameters.values.base, count: parameters.values.count),
                       gradients: UnsafeBufferPointer(gradients), learningRate: learningRate)
        parameters.zeroGradients()
        return norm
    }
}

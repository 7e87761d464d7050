// The autoencoder objective of latent diffusion (Rombach et al.'s first stage), reduced to what
// trains a small VAE from nothing on a CPU: a pixel reconstruction term and a small KL term that
// keeps the latent distribution near N(0, 1), so that diffusion can later work in it.
//   z   = μ + σ·ε,  σ = exp(½·log σ²)                  (the reparameterised posterior sample)
//   x̂   = decode(z)
//   L   = mean((x̂ − x)²) + β · KL
//   KL  = (1/B) · Σ ½ (μ² + σ² − 1 − log σ²)            (summed over latent elements, averaged over the batch)
// The paper's recipe adds a perceptual (LPIPS) and an adversarial term for sharp photographs; the
// shapes world is flat colour, where the squared error alone reconstructs edges well.
import Foundation
import Tensor

/// Reconstruction + β·KL, with its gradients.
public struct VAELoss: Sendable, Equatable {
    /// β: the KL term's weight (the LDM configs use 1e-6 with their summed reconstruction loss).
    public var klWeight: Double

    public init(klWeight: Double = 1e-6) { self.klWeight = klWeight }

    /// The terms of one evaluation.
    public struct Value {
        public let loss: Double
        public let reconstruction: Double
        public let kl: Double
        /// ∂L/∂x̂, ∂L/∂μ (KL part only: the reconstruction's reaches μ through z), ∂L/∂log σ² (KL part).
        public let gradReconstruction: Tensor
        public let gradMean: Tensor
        public let gradLogVariance: Tensor
    }

    /// The loss of reconstructions `reconstruction` of `target` (both [B, 3, H, W]) from posteriors
    /// (`mean`, `logVariance`) [B, L, h, w].
    public func evaluate(reconstruction: Tensor, target: Tensor, mean: Tensor, logVariance: Tensor) -> Value {
        precondition(reconstruction.shape == target.shape, "reconstruction \(reconstruction.shape) vs images \(target.shape)")
        precondition(mean.shape == logVariance.shape, "mean \(mean.shape) vs log-variance \(logVariance.shape)")
        let n = Double(target.count), batch = Double(target.shape[0])
        let gradReconstruction = Tensor(uninitialized: target.shape)
        var squares = 0.0
        for i in 0..<target.count {
            let d = Double(reconstruction.pointer[i]) - Double(target.pointer[i])
            squares += d * d
            gradReconstruction.pointer[i] = Float(2 * d / n)
        }
        let gradMean = Tensor(uninitialized: mean.shape), gradLogVariance = Tensor(uninitialized: mean.shape)
        var kl = 0.0
        for i in 0..<mean.count {
            let mu = Double(mean.pointer[i]), logVar = Double(logVariance.pointer[i]), variance = Foundation.exp(logVar)
            kl += 0.5 * (mu * mu + variance - 1 - logVar)
            gradMean.pointer[i] = Float(klWeight * mu / batch)
            gradLogVariance.pointer[i] = Float(klWeight * 0.5 * (variance - 1) / batch)
        }
        kl /= batch
        let reconstructionLoss = squares / n
        return Value(loss: reconstructionLoss + klWeight * kl, reconstruction: reconstructionLoss, kl: kl,
                     gradReconstruction: gradReconstruction, gradMean: gradMean, gradLogVariance: gradLogVariance)
    }
}

// The latent scaling factor of a newly trained VAE (vae/config.json's `scaling_factor`): latent
// diffusion's "scale by std". The UNet is trained on latents × scaling_factor and samples start from
// unit Gaussian noise, so the scaled latents must have unit standard deviation — else the noise
// schedule's last steps never reach pure noise (latents too large) or drown the signal early (too
// small). SD 1.x's 0.18215 is this figure for its own VAE; a VAE trained from nothing needs its own.
//
// As the reference recipe does, the figure is 1 / std over every element of posterior samples
// (mean + σ·ε, what training encodes) of a set of training images. Images are taken in a fixed
// order and sums are kept in Double in that order, so the figure is the same on every run.
import Foundation
import ImageIO
import Models
import Sampling
import Tensor

public enum LatentScale {
    /// 1 / std of the posterior samples of `images` (the first `limit` of them) under `vae`.
    public static func calibrate(_ vae: AutoencoderKL, images: [RGBImage], seed: UInt64,
                                 limit: Int = 512, batchSize: Int = 16) -> Float {
        precondition(!images.isEmpty, "no images to calibrate the latent scale on")
        let chosen = Array(images.prefix(limit))
        var sum = 0.0, sumOfSquares = 0.0, count = 0
        for start in stride(from: 0, to: chosen.count, by: batchSize) {
            let rows = chosen[start..<min(start + batchSize, chosen.count)]
            let side = rows.first!.width
            let batch = Tensor(uninitialized: [rows.count, 3, side, side])
            for (row, image) in rows.enumerated() { ImageTensor.write(image, into: batch[row]) }
            let (mean, logVariance) = vae.encode(batch)
            var noise = TorchGenerator(seed: seed &+ UInt64(start))
            let epsilon = noise.randn(mean.shape)
            for i in 0..<mean.count {
                let z = Double(mean.pointer[i]) + Foundation.exp(0.5 * Double(logVariance.pointer[i])) * Double(epsilon.pointer[i])
                sum += z
                sumOfSquares += z * z
            }
            count += mean.count
        }
        let average = sum / Double(count)
        let variance = max(sumOfSquares / Double(count) - average * average, 1e-12)
        return Float(1 / variance.squareRoot())
    }
}

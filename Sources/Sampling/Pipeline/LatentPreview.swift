// Live previews of a render in progress, as A1111 makes its "Approx cheap" ones: the clean latents
// that the model's guided output implies at this step (x₀, the "Combined" preview), projected to RGB
// by a fixed 4 × 3 matrix — no VAE, a few microseconds — at latent resolution (64 × 64 for 512 px).
// The factors and the [−1, 1] → 8-bit mapping are A1111's (sd_vae_approx.cheap_approximation and
// single_sample_to_image: clamp(x · 0.5 + 0.5) · 255, truncated).
// x₀ from the model input x_t (the latents in DDPM scale: every scheduler's `scaleModelInput`):
//   ε-prediction  x₀ = (x_t − √(1−ᾱ)·ε) / √ᾱ
//   v-prediction  x₀ = √ᾱ·x_t − √(1−ᾱ)·v
//   sample        x₀ = the output.
import ImageIO
import Tensor

/// Preview images of denoising latents.
public enum LatentPreview {
    /// A1111's latent → RGB factors for SD 1.x: row c is latent channel c's contribution to R, G, B.
    static let rgbFactors: [[Float]] = [
        [0.298, 0.207, 0.208],
        [0.187, 0.286, 0.173],
        [-0.158, 0.189, 0.264],
        [-0.184, -0.271, -0.473],
    ]

    /// The clean latents [1, 4, h, w] implied by `modelOutput` at a step whose model input was
    /// `modelInput`, with signal fraction `alphaBar`.
    public static func denoised(modelOutput: Tensor, modelInput: Tensor, alphaBar: Float, prediction: PredictionType) -> Tensor {
        let a = alphaBar.squareRoot(), b = (1 - alphaBar).squareRoot()
        switch prediction {
        case .epsilon: return LatentArithmetic.map(modelInput, modelOutput) { x, e in (x - b * e) / a }
        case .vPrediction: return LatentArithmetic.map(modelInput, modelOutput) { x, v in a * x - b * v }
        case .sample: return modelOutput.copy()
        }
    }

    /// A1111's "Approx cheap" image of latents [1, 4, h, w]: h × w pixels.
    public static func cheapApproximation(_ latents: Tensor) -> RGBImage {
        precondition(latents.rank == 4 && latents.shape[0] == 1 && latents.shape[1] == 4, "preview of latents \(latents.shape)")
        let (height, width) = (latents.shape[2], latents.shape[3])
        let plane = height * width
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        for i in 0..<plane {
            for colour in 0..<3 {
                var value: Float = 0
                for channel in 0..<4 { value += latents.pointer[channel * plane + i] * rgbFactors[channel][colour] }
                let unit = min(max(value * 0.5 + 0.5, 0), 1)
                pixels[i * 3 + colour] = UInt8(unit * 255)  // truncated, as numpy's astype(uint8)
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}

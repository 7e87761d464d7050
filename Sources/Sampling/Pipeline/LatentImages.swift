// Between VAE pixel tensors and 8-bit RGB images, as diffusers' VaeImageProcessor does:
// decode side (x / 2 + 0.5).clamp(0, 1) · 255, rounded; encode side 2·(p / 255) − 1.
import ImageIO
import Tensor

/// Conversions between [1, 3, H, W] tensors in [−1, 1] and RGB images.
public enum LatentImages {
    /// image [1, 3, H, W] (nominally in [−1, 1]) → RGB, 8 bits per channel.
    public static func rgbImage(from image: Tensor) -> RGBImage {
        precondition(image.rank == 4 && image.shape[0] == 1 && image.shape[1] == 3, "expected [1, 3, H, W], got \(image.shape)")
        let h = image.shape[2], w = image.shape[3], plane = h * w
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        for c in 0..<3 {
            let src = image.pointer + c * plane
            for i in 0..<plane {
                let v = min(max(src[i] / 2 + 0.5, 0), 1)
                // numpy's (x * 255).round() rounds halves to even, as Float.rounded() does with this rule.
                pixels[i * 3 + c] = UInt8((v * 255).rounded(.toNearestOrEven))
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }

    /// RGB → [1, 3, H, W] in [−1, 1] (the VAE encoder's input range).
    public static func tensor(from image: RGBImage) -> Tensor {
        let plane = image.width * image.height
        let t = Tensor(uninitialized: [1, 3, image.height, image.width])
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<plane {
                for c in 0..<3 { t.pointer[c * plane + i] = Float(p[i * 3 + c]) / 255 * 2 - 1 }
            }
        }
        return t
    }
}

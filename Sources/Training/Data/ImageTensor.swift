// 8-bit RGB → the float tensor the VAE encoder takes: torchvision's `ToTensor()` (HWC bytes → CHW
// floats, ÷ 255 in float32) then `Normalize([0.5], [0.5])` ((x − 0.5) / 0.5 in float32), so values lie
// in [−1, 1] exactly as diffusers' DreamBooth dataset hands them to `vae.encode`.
import ImageIO
import Tensor

/// Conversion of training images to tensors.
public enum ImageTensor {
    /// `image` as a `[3, H, W]` tensor in [−1, 1]. The two float32 roundings are those of torch (divide,
    /// then subtract and divide), so every byte maps to the same float as in PyTorch.
    public static func normalized(_ image: RGBImage) -> Tensor {
        let out = Tensor(uninitialized: [3, image.height, image.width])  // [3, H, W]
        write(image, into: out)
        return out
    }

    /// Writes `image` into `destination` (`[3, H, W]` elements, e.g. one sample of a batch tensor).
    public static func write(_ image: RGBImage, into destination: Tensor) {
        let plane = image.width * image.height
        precondition(destination.count == 3 * plane, "\(image.width)x\(image.height) into \(destination.shape)")
        var table = [Float](repeating: 0, count: 256)
        for byte in 0..<256 { table[byte] = (Float(byte) / 255 - 0.5) / 0.5 }
        let out = destination.pointer
        image.pixels.withUnsafeBufferPointer { pixels in
            for p in 0..<plane {
                out[p] = table[Int(pixels[p * 3])]
                out[plane + p] = table[Int(pixels[p * 3 + 1])]
                out[2 * plane + p] = table[Int(pixels[p * 3 + 2])]
            }
        }
    }
}

// Nearest-neighbour resizing of [N, C, H, W] to an arbitrary size, as PyTorch's
// `F.interpolate(size=…, mode="nearest")`: source index ⌊dst · (in / out)⌋ in fp32, clamped.
// The UNet needs it when a latent side is not a multiple of 8 (e.g. 520 px → 65 latents → 33 → 17:
// the up path resizes 17 → 33, not 17 → 34), as diffusers' `upsample_size` does.
import Foundation

/// Nearest-neighbour resize, forward and backward.
public enum NearestResize {
    /// x [N, C, H, W] → [N, C, height, width]
    public static func forward(_ x: Tensor, height: Int, width: Int) -> Tensor {
        precondition(x.rank == 4 && height > 0 && width > 0, "resize: \(x.shape) to \(height)×\(width)")
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        let rows = sourceIndices(input: h, output: height), columns = sourceIndices(input: w, output: width)
        let y = Tensor(uninitialized: [x.shape[0], x.shape[1], height, width])
        ThreadPool.shared.parallelFor(planes, grain: max(1, 16384 / max(height * width, 1))) { range in
            for p in range {
                let src = x.pointer + p * h * w, dst = y.pointer + p * height * width
                for (i, r) in rows.enumerated() {
                    for (j, c) in columns.enumerated() { dst[i * width + j] = src[r * w + c] }
                }
            }
        }
        return y
    }

    /// Adds the gradient of `forward` into gradInput [N, C, H, W]: each source pixel receives the sum
    /// of the gradients of the outputs that copied it.
    public static func backward(gradOutput: Tensor, gradInput: Tensor) {
        let (planes, h, w) = (gradInput.shape[0] * gradInput.shape[1], gradInput.shape[2], gradInput.shape[3])
        let (height, width) = (gradOutput.shape[2], gradOutput.shape[3])
        let rows = sourceIndices(input: h, output: height), columns = sourceIndices(input: w, output: width)
        ThreadPool.shared.parallelFor(planes, grain: max(1, 16384 / max(height * width, 1))) { range in
            for p in range {
                let src = gradOutput.pointer + p * height * width, dst = gradInput.pointer + p * h * w
                for (i, r) in rows.enumerated() {
                    for (j, c) in columns.enumerated() { dst[r * w + c] += src[i * width + j] }
                }
            }
        }
    }

    /// PyTorch's legacy nearest rule: min(⌊i · (in/out)⌋, in − 1), with the scale in fp32.
    static func sourceIndices(input: Int, output: Int) -> [Int] {
        let scale = Float(input) / Float(output)
        return (0..<output).map { min(Int((Float($0) * scale).rounded(.down)), input - 1) }
    }
}

// Nearest-neighbour 2× upsampling of [N, C, H, W], as F.interpolate(scale_factor=2, mode="nearest")
// in diffusers' Upsample2D (followed there by a 3×3 convolution), forward and backward.
// Downsampling by 2 is a stride-2 convolution (Conv2D), not here.
import Foundation

/// out[n, c, y, x] = in[n, c, y/2, x/2].
public enum UpsampleNearest2x {
    /// x [N, C, H, W] → [N, C, 2H, 2W].
    public static func forward(_ x: Tensor) -> Tensor {
        let (planes, h, w) = dimensions(x)
        let output = Tensor(uninitialized: [x.shape[0], x.shape[1], 2 * h, 2 * w])  // [N, C, 2H, 2W]
        let xp = x.pointer, yp = output.pointer
        ThreadPool.shared.parallelFor(planes, grain: max(1, pointwiseGrain / max(4 * h * w, 1))) { range in
            for plane in range {
                for row in 0..<h {
                    let source = xp + (plane * h + row) * w
                    let even = yp + (plane * 2 * h + 2 * row) * 2 * w  // output row 2·row
                    for i in 0..<w {
                        even[2 * i] = source[i]
                        even[2 * i + 1] = source[i]
                    }
                    (even + 2 * w).update(from: even, count: 2 * w)  // output row 2·row + 1
                }
            }
        }
        return output
    }

    /// gradInput [N, C, H, W] += the sum of each 2×2 block of gradOutput [N, C, 2H, 2W].
    public static func backward(gradOutput: Tensor, gradInput: Tensor) {
        let (planes, h, w) = dimensions(gradInput)
        precondition(gradOutput.shape == [gradInput.shape[0], gradInput.shape[1], 2 * h, 2 * w],
                     "upsample_nearest2x backward: gradOutput \(gradOutput.shape) for gradInput \(gradInput.shape)")
        let gp = gradOutput.pointer, gxp = gradInput.pointer
        ThreadPool.shared.parallelFor(planes, grain: max(1, pointwiseGrain / max(4 * h * w, 1))) { range in
            for plane in range {
                for row in 0..<h {
                    let even = gp + (plane * 2 * h + 2 * row) * 2 * w, odd = even + 2 * w
                    let target = gxp + (plane * h + row) * w
                    for i in 0..<w {
                        target[i] += (even[2 * i] + even[2 * i + 1]) + (odd[2 * i] + odd[2 * i + 1])
                    }
                }
            }
        }
    }

    /// (N·C, H, W) of an [N, C, H, W] tensor.
    private static func dimensions(_ x: Tensor) -> (planes: Int, h: Int, w: Int) {
        precondition(x.rank == 4, "upsample_nearest2x: input \(x.shape) is not [N, C, H, W]")
        return (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
    }
}

// A float64 direct 3×3 stride-1 padding-1 convolution at sampled outputs: the reference the fast
// convolution methods (im2col, Winograd F(2×2) and F(4×4)) are measured against.
import Tensor

/// The exact (float64) outputs of x [1, Ci, H, W] ∗ weight [Co, Ci, 3, 3] + bias at 64 sampled
/// positions — the four corners' kind (first/last channel, row, column) and 60 spread over the
/// output — as (flat index into [1, Co, H, W], value).
public func sampledDirectConvolution3x3(_ x: Tensor, weight: Tensor, bias: Tensor) -> [(index: Int, value: Double)] {
    let (ci, h, w, co) = (x.shape[1], x.shape[2], x.shape[3], weight.shape[0])
    var samples: [(Int, Int, Int)] = [(0, 0, 0), (co - 1, h - 1, w - 1), (co / 2, 0, w - 1), (co / 3, h - 1, 0)]
    for s in 0..<60 { samples.append(((s * 7919) % co, (s * 31) % h, (s * 17) % w)) }
    return samples.map { o, y, xx in
        var sum = Double(bias.pointer[o])
        for c in 0..<ci {
            for ky in 0..<3 {
                for kx in 0..<3 {
                    let iy = y + ky - 1, ix = xx + kx - 1
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    sum += Double(x.pointer[(c * h + iy) * w + ix]) * Double(weight.pointer[((o * ci + c) * 3 + ky) * 3 + kx])
                }
            }
        }
        return ((o * h + y) * w + xx, sum)
    }
}

// One module's LoRA: the weight update ΔW = scale · B · A of rank r, kept as its two factors —
// A ("down", [r, in]) and B ("up", [out, r]) — so that it can be applied beside the base product
// (x·Aᵀ·Bᵀ costs r·(in + out) per row instead of in·out) without touching the mapped base weights.
import Tensor

/// A low-rank update of one linear layer or 1×1 convolution.
public struct LowRankUpdate: Sendable {
    /// A: [rank, in].
    public let down: Tensor
    /// B: [out, rank].
    public let up: Tensor
    /// The factor on B·A the file's alpha gives (alpha / rank; 1 when the file has no alpha).
    public let scale: Float
    /// The side of A's kernel: 1 for linear layers and 1×1 convolutions; k for a k×k convolution,
    /// whose A is itself a k×k convolution to `rank` channels (then `inFeatures` = in · k²).
    public let kernel: Int

    public var rank: Int { down.shape[0] }
    public var inFeatures: Int { down.shape[1] }
    public var outFeatures: Int { up.shape[0] }

    /// Factors as files store them: matrices, or convolution weights — A [r, in, k, k] and
    /// B [out, r, 1, 1] — kept as the matrices [r, in·k²] and [out, r] they are.
    public init(down: Tensor, up: Tensor, scale: Float) {
        precondition(down.shape.count >= 2 && up.shape.count >= 2 && up.shape[1] == down.shape[0],
                     "LoRA factors \(up.shape) · \(down.shape) do not chain")
        kernel = down.shape.count == 4 ? down.shape[3] : 1
        self.down = down.reshaped([down.shape[0], down.count / down.shape[0]])
        self.up = up.reshaped([up.shape[0], up.count / up.shape[0]])
        self.scale = scale
    }

    /// A as a convolution weight [r, in, k, k].
    public var downKernel: Tensor { down.reshaped([rank, inFeatures / (kernel * kernel), kernel, kernel]) }

    /// scale · B · A as an [out, in] matrix, summed in double precision (for checks and merging; the
    /// renderer never forms it).
    public func delta() -> Tensor {
        let out = Tensor(zeros: [outFeatures, inFeatures])
        let a = down.pointer, b = up.pointer, d = out.pointer
        for o in 0..<outFeatures {
            for i in 0..<inFeatures {
                var sum = 0.0
                for k in 0..<rank { sum += Double(b[o * rank + k]) * Double(a[k * inFeatures + i]) }
                d[o * inFeatures + i] = Float(Double(scale) * sum)
            }
        }
        return out
    }
}

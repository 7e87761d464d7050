// Fully connected layer y = x·Wᵀ + b with PyTorch's weight layout [out, in], forward and backward.
//
// The leading dimension of an input of rank 3 or more is the batch: each sample's rows are computed
// as if it were alone (see MatMul), so a sample's output does not depend on what shares its batch.
// A rank-2 input [B, in] is B samples of one row each.
import Foundation

/// `torch.nn.Linear` as functions of explicit weights.
public enum Linear {
    /// x [..., in] · W [out, in]ᵀ + b [out] → [..., out]
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 2 && x.shape.last == weight.shape[1],
                     "linear: input \(x.shape) does not match weight \(weight.shape)")
        let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
        let rows = x.count / max(inFeatures, 1)
        let samples = sampleCount(x)
        let y = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])
        var beta: Float = 0
        if let bias {
            precondition(bias.count == outFeatures, "linear: bias \(bias.shape) for \(outFeatures) outputs")
            // Start every row at the bias and let sgemm accumulate onto it: no second pass over y.
            for r in 0..<rows { (y.pointer + r * outFeatures).update(from: bias.pointer, count: outFeatures) }
            beta = 1
        }
        MatMul.gemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                    a: x.pointer, lda: inFeatures, b: weight.pointer, ldb: inFeatures,
                    beta: beta, c: y.pointer, ldc: outFeatures, samples: samples)
        return y
    }

    /// The samples of a batch `x` [B, ..., in] (B); a single vector is one sample.
    static func sampleCount(_ x: Tensor) -> Int {
        x.rank >= 2 ? max(x.shape[0], 1) : 1
    }

    /// Adds the gradients of `forward` into `gradInput` [..., in], `gradWeight` [out, in] and
    /// `gradBias` [out] (any may be nil when not needed).
    public static func backward(
        gradOutput: Tensor, input: Tensor, weight: Tensor,
        gradInput: Tensor?, gradWeight: Tensor?, gradBias: Tensor?
    ) {
        let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
        let rows = input.count / max(inFeatures, 1)
        precondition(gradOutput.count == rows * outFeatures, "linear: gradOutput \(gradOutput.shape) for input \(input.shape)")
        if let gradInput {
            // dx = dy · W
            MatMul.gemm(m: rows, n: inFeatures, k: outFeatures,
                        a: gradOutput.pointer, lda: outFeatures, b: weight.pointer, ldb: inFeatures,
                        beta: 1, c: gradInput.pointer, ldc: inFeatures, samples: sampleCount(input))
        }
        if let gradWeight {
            // dW = dyᵀ · x
            MatMul.gemm(transposeA: true, m: outFeatures, n: inFeatures, k: rows,
                        a: gradOutput.pointer, lda: outFeatures, b: input.pointer, ldb: inFeatures,
                        beta: 1, c: gradWeight.pointer, ldc: inFeatures)
        }
        if let gradBias {
            for r in 0..<rows {
                let g = gradOutput.pointer + r * outFeatures
                for o in 0..<outFeatures { gradBias.pointer[o] += g[o] }
            }
        }
    }
}

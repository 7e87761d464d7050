// Swapping the last two axes of [B, M, N] → [B, N, M]: between the UNet's channel-first images
// [B, C, H·W] and the token-major sequences [B, H·W, C] that attention layers work on.
import Foundation

/// Batched matrix transpose, forward and backward.
public enum Transpose {
    /// x [B, M, N] (any leading dims fold into B) → [B, N, M].
    public static func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank >= 2, "transpose needs a matrix, got \(x.shape)")
        let m = x.shape[x.rank - 2], n = x.shape[x.rank - 1]
        let y = Tensor(uninitialized: Array(x.shape.dropLast(2)) + [n, m])
        transposeMatrices(x.pointer, into: y.pointer, batch: x.count / max(m * n, 1), rows: m, columns: n, accumulate: false)
        return y
    }

    /// Adds the gradient of `forward` (the transpose of gradOutput [B, N, M]) into gradInput [B, M, N].
    public static func backward(gradOutput: Tensor, gradInput: Tensor) {
        precondition(gradInput.rank >= 2 && gradOutput.count == gradInput.count, "transpose backward: \(gradOutput.shape) into \(gradInput.shape)")
        let m = gradInput.shape[gradInput.rank - 2], n = gradInput.shape[gradInput.rank - 1]
        transposeMatrices(gradOutput.pointer, into: gradInput.pointer, batch: gradInput.count / max(m * n, 1), rows: n, columns: m, accumulate: true)
    }

    /// dst[b, j, i] (=|+=) src[b, i, j], in 32×32 tiles so that both sides stay in cache.
    static func transposeMatrices(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>,
                                  batch: Int, rows: Int, columns: Int, accumulate: Bool) {
        let tile = 32
        let tileRows = (rows + tile - 1) / tile
        ThreadPool.shared.parallelFor(batch * tileRows, grain: max(1, 4096 / max(columns * tile, 1))) { tasks in
            for task in tasks {
                let b = task / tileRows, i0 = (task % tileRows) * tile
                let s = src + b * rows * columns, d = dst + b * rows * columns
                let i1 = min(i0 + tile, rows)
                var j0 = 0
                while j0 < columns {
                    let j1 = min(j0 + tile, columns)
                    for i in i0..<i1 {
                        for j in j0..<j1 {
                            if accumulate { d[j * rows + i] += s[i * columns + j] } else { d[j * rows + i] = s[i * columns + j] }
                        }
                    }
                    j0 = j1
                }
            }
        }
    }
}

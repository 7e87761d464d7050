// Softmax over the last dimension, forward and backward.
import Foundation

/// `torch.softmax(x, dim=-1)`.
public enum Softmax {
    /// softmax of each row of x [..., n] → same shape.
    public static func forward(_ x: Tensor) -> Tensor {
        let n = x.shape.last ?? 1
        let rows = x.count / max(n, 1)
        let y = Tensor(uninitialized: x.shape)
        ThreadPool.shared.parallelFor(rows, grain: max(1, 16384 / max(n, 1))) { range in
            for r in range { softmaxRow(x.pointer + r * n, into: y.pointer + r * n, count: n) }
        }
        return y
    }

    /// Adds dx = y ⊙ (dy − Σ dy ⊙ y) into `gradInput`, from the forward output `output`.
    public static func backward(gradOutput: Tensor, output: Tensor, gradInput: Tensor) {
        precondition(gradOutput.shape == output.shape && gradInput.count == output.count,
                     "softmax backward: gradOutput \(gradOutput.shape), output \(output.shape), gradInput \(gradInput.shape)")
        let n = output.shape.last ?? 1
        let rows = output.count / max(n, 1)
        ThreadPool.shared.parallelFor(rows, grain: max(1, 16384 / max(n, 1))) { range in
            for r in range {
                let y = output.pointer + r * n, dy = gradOutput.pointer + r * n, dx = gradInput.pointer + r * n
                var dot: Float = 0
                for i in 0..<n { dot += dy[i] * y[i] }
                for i in 0..<n { dx[i] += y[i] * (dy[i] - dot) }
            }
        }
    }

    /// Writes softmax(src[0..<count]) to dst (dst may equal src) and returns log Σ exp(src), the
    /// row's log-sum-exp (which the attention backward pass needs).
    @discardableResult
    @inline(__always)
    public static func softmaxRow(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count n: Int) -> Float {
        let (m, sum) = exponentiateRow(src, into: dst, count: n)
        guard sum > 0 else { return -.infinity }
        let inverse = SIMD8<Float>(repeating: 1 / sum)
        var i = 0
        while i + 8 <= n { store8(load8(dst + i) * inverse, dst + i); i += 8 }
        while i < n { dst[i] *= inverse[0]; i += 1 }
        return m + Foundation.log(sum)
    }

    /// The unnormalised half of softmax: writes exp(src − max) to dst and returns (max, Σ).
    /// Attention normalises after P·V instead, on D values a row rather than Tk.
    /// A row that is all −inf (fully masked) gives zeros and sum 0.
    @inline(__always)
    public static func exponentiateRow(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count n: Int) -> (max: Float, sum: Float) {
        guard n > 0 else { return (-.infinity, 0) }
        // Max first, so that exp never overflows.
        var i = 0
        var vmax = SIMD8<Float>(repeating: -.infinity)
        while i + 8 <= n {
            let v = load8(src + i)
            vmax = vmax.replacing(with: v, where: v .> vmax)  // (pointwiseMax is a scalar library call)
            i += 8
        }
        var m = vmax.max()
        while i < n { m = max(m, src[i]); i += 1 }
        if m == -.infinity {
            dst.update(repeating: 0, count: n)
            return (m, 0)
        }
        let vm = SIMD8<Float>(repeating: m)
        var vsum = SIMD8<Float>(repeating: 0)
        i = 0
        while i + 8 <= n {
            let e = VectorMath.exp(load8(src + i) - vm)
            store8(e, dst + i)
            vsum += e
            i += 8
        }
        var sum = vsum.sum()
        while i < n {
            let e = VectorMath.exp(SIMD8(repeating: src[i] - m))[0]
            dst[i] = e
            sum += e
            i += 1
        }
        return (m, sum)
    }
}

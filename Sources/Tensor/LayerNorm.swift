// Layer normalisation over the last dimension (torch.nn.functional.layer_norm with
// normalized_shape = [D]), with affine weight and bias, forward and backward. The CLIP text encoder
// and the UNet's BasicTransformerBlock use it. Backward as llm.c's layernorm_backward:
//   x̂ = (x − μ)·rstd,  dx̂ = dy·w,  dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)),
//   dw += Σ_rows dy·x̂,  db += Σ_rows dy.
import Foundation

/// LayerNorm over the last dimension D of [..., D].
public enum LayerNorm {
    /// Partial sums of the weight and bias gradients: at most this many, whatever the thread count.
    static let maximumReductionChunks = 8

    /// What backward needs from forward.
    public struct Cache: Sendable {
        /// Row means, [...] (the input's shape without D).
        public let mean: Tensor
        /// 1/√(variance + eps) per row, [...].
        public let rstd: Tensor
    }

    /// Normalises each row of `x` [..., D]; `weight` and `bias` are [D] (nil means 1 and 0).
    public static func forward(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> (output: Tensor, cache: Cache) {
        let (rows, d) = dimensions(x, weight: weight, bias: bias)
        let output = Tensor(uninitialized: x.shape)  // [..., D]
        let mean = Tensor(uninitialized: Array(x.shape.dropLast()))  // [...]
        let rstd = Tensor(uninitialized: Array(x.shape.dropLast()))  // [...]
        let xp = x.pointer, yp = output.pointer, mp = mean.pointer, rp = rstd.pointer
        let wp = weight?.pointer, bp = bias?.pointer
        ThreadPool.shared.parallelFor(rows, grain: max(1, pointwiseGrain / max(d, 1))) { range in
            for row in range {
                let x = xp + row * d, y = yp + row * d
                let (mu, variance) = Moments.of(x, count: d)
                let r = Float(1 / (variance + Double(eps)).squareRoot())
                mp[row] = Float(mu)
                rp[row] = r
                // μ as two floats, so that rows with |μ| ≫ σ keep their digits (see GroupNorm).
                let muHi = SIMD8<Float>(repeating: Float(mu)), muLo = SIMD8<Float>(repeating: Float(mu - Double(Float(mu))))
                let rv = SIMD8<Float>(repeating: r)
                var j = 0
                while j < d {
                    let n = min(8, d - j)
                    let v = n == 8 ? load8(x + j) : loadPartial(x + j, n)
                    let w = wp.map { n == 8 ? load8($0 + j) : loadPartial($0 + j, n) } ?? SIMD8(repeating: 1)
                    let b = bp.map { n == 8 ? load8($0 + j) : loadPartial($0 + j, n) } ?? SIMD8()
                    let out = ((v - muHi) - muLo) * rv * w + b
                    if n == 8 { store8(out, y + j) } else { storePartial(out, y + j, n) }
                    j += 8
                }
            }
        }
        return (output, Cache(mean: mean, rstd: rstd))
    }

    /// Adds the gradients of `forward` into `gradInput` [..., D], `gradWeight` and `gradBias` [D]
    /// (any may be nil). `input`, `weight` and `cache` are those of the forward call.
    public static func backward(
        gradOutput: Tensor, input: Tensor, weight: Tensor?, cache: Cache,
        gradInput: Tensor?, gradWeight: Tensor?, gradBias: Tensor?
    ) {
        let (rows, d) = dimensions(input, weight: weight, bias: nil)
        checkSameCount("layer_norm backward", gradOutput, input, "gradOutput", "input")
        precondition(cache.mean.count == rows && cache.rstd.count == rows,
                     "layer_norm backward: cache \(cache.mean.shape) for input \(input.shape)")
        if let gradInput { checkSameCount("layer_norm backward", gradInput, input, "gradInput", "input") }
        if let gradWeight { precondition(gradWeight.count == d, "layer_norm backward: gradWeight \(gradWeight.shape) for D = \(d)") }
        if let gradBias { precondition(gradBias.count == d, "layer_norm backward: gradBias \(gradBias.shape) for D = \(d)") }

        // dw and db sum over rows. Each chunk of rows sums into its own partial [2, D] (no races);
        // the partials are added at the end, in order. The chunk count is a function of the shape
        // (never of the thread count), so the sums round the same way on any machine and load.
        let chunks = min(Self.maximumReductionChunks, max(1, input.count / pointwiseGrain), max(rows, 1))
        let partials = Tensor(zeros: [chunks, 2, d])  // [chunk, (Σ dy·x̂, Σ dy), D]
        let xp = input.pointer, gp = gradOutput.pointer, gxp = gradInput?.pointer
        let mp = cache.mean.pointer, rp = cache.rstd.pointer, wp = weight?.pointer, pp = partials.pointer

        ThreadPool.shared.parallelFor(chunks) { chunkRange in
            for chunk in chunkRange {
                let dwPartial = pp + chunk * 2 * d, dbPartial = dwPartial + d
                for row in rows * chunk / chunks ..< rows * (chunk + 1) / chunks {
                    let x = xp + row * d, g = gp + row * d
                    let mu = SIMD8<Float>(repeating: mp[row]), r = SIMD8<Float>(repeating: rp[row])
                    // Loads of the 8 (or fewer, zero-padded) values at column j.
                    @inline(__always) func load(_ p: UnsafePointer<Float>, _ j: Int) -> SIMD8<Float> {
                        d - j >= 8 ? load8(p + j) : loadPartial(p + j, d - j)
                    }
                    @inline(__always) func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ j: Int) {
                        if d - j >= 8 { store8(v, p + j) } else { storePartial(v, p + j, d - j) }
                    }
                    @inline(__always) func weight(_ j: Int) -> SIMD8<Float> { wp.map { load($0, j) } ?? SIMD8(repeating: 1) }

                    // Pass 1: Σ dx̂ and Σ dx̂·x̂ over the row, and this row's share of dw and db.
                    var s = SIMD8<Float>(), sx = SIMD8<Float>()
                    var j = 0
                    while j < d {
                        let dy = load(g, j), xhat = (load(x, j) - mu) * r
                        let dxhat = dy * weight(j)  // zero in padded lanes, since dy is
                        s += dxhat
                        sx = sx.addingProduct(dxhat, xhat)
                        store(load(dwPartial, j).addingProduct(dy, xhat), dwPartial, j)
                        store(load(dbPartial, j) + dy, dbPartial, j)
                        j += 8
                    }
                    guard let gxp else { continue }

                    // Pass 2: dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)).
                    let meanDxhat = SIMD8<Float>(repeating: s.sum() / Float(d))
                    let meanDxhatXhat = SIMD8<Float>(repeating: sx.sum() / Float(d))
                    let gx = gxp + row * d
                    j = 0
                    while j < d {
                        let xhat = (load(x, j) - mu) * r
                        let dxhat = load(g, j) * weight(j)
                        store(load(gx, j) + r * (dxhat - meanDxhat - xhat * meanDxhatXhat), gx, j)
                        j += 8
                    }
                }
            }
        }

        for chunk in 0..<chunks {
            let dwPartial = pp + chunk * 2 * d, dbPartial = dwPartial + d
            if let gradWeight { for j in 0..<d { gradWeight.pointer[j] += dwPartial[j] } }
            if let gradBias { for j in 0..<d { gradBias.pointer[j] += dbPartial[j] } }
        }
    }

    /// (rows, D) for x [..., D], checking the affine parameters.
    private static func dimensions(_ x: Tensor, weight: Tensor?, bias: Tensor?) -> (rows: Int, d: Int) {
        precondition(x.rank >= 1, "layer_norm: input \(x.shape) has no last dimension")
        let d = x.shape[x.rank - 1]
        if let weight { precondition(weight.count == d, "layer_norm: weight \(weight.shape) for input \(x.shape)") }
        if let bias { precondition(bias.count == d, "layer_norm: bias \(bias.shape) for input \(x.shape)") }
        return (d == 0 ? 0 : x.count / d, d)
    }
}

// Multi-head scaled dot-product attention, softmax(Q·Kᵀ·scale)·V, forward and backward.
//
// Layout: q [B, Tq, H·D], k and v [B, Tk, H·D] — exactly what the to_q/to_k/to_v linear layers
// produce — so no head transposes are needed: head h of batch b is a [T, D] matrix with row
// stride H·D, which sgemm reads directly through its leading dimension.
//
// Method (as FlashAttention, on the CPU): the Tq×Tk score matrix is never materialised. Query rows
// go in blocks; for each block, S = Q_blk·Kᵀ is a strip that fits in L2, is turned into
// probabilities in place, and multiplied by V right away. Blocks are independent, so they run in
// parallel on our threads. The forward pass computes the strips with its own micro-kernels from K
// and V packed once per head (AttentionKernel.swift) for head sizes up to 80; `stripForward` calls
// single-threaded sgemm per block, for larger heads and as the fused kernel's baseline. The backward pass recomputes each strip (by
// sgemm) from the saved per-row log-sum-exp instead of storing P.
//
// Key lengths per batch row (forward only): a batch whose rows carry contexts of different lengths
// (a prompt of two 77-token chunks beside a negative prompt of one) is padded to the longest, and row
// b attends over its first `keyLengths[b]` keys only. Its strips are then the very ones a batch of
// that row alone would compute (packed and summed over the row's own key count), so the output is the
// bytes of separate passes — what A1111 runs when prompt and negative prompt differ in length.
import Foundation

/// Scaled dot-product attention over packed heads.
public enum Attention {
    /// Query rows per block: 32 rows × 4096 keys × 4 bytes = 512 KiB of scores, an L2's worth.
    static let queryBlock = 32

    /// Sizes of one attention call.
    struct Geometry {
        let batch: Int, heads: Int, headDim: Int, queryLength: Int, keyLength: Int
        var rowStride: Int { heads * headDim }

        init(query: Tensor, key: Tensor, value: Tensor, heads: Int) {
            precondition(query.rank == 3 && key.rank == 3 && value.rank == 3,
                         "attention wants [B, T, H·D] tensors, got \(query.shape), \(key.shape), \(value.shape)")
            precondition(key.shape == value.shape, "attention: key \(key.shape) and value \(value.shape) differ")
            precondition(query.shape[0] == key.shape[0] && query.shape[2] == key.shape[2],
                         "attention: query \(query.shape) does not match key \(key.shape)")
            precondition(heads > 0 && query.shape[2] % heads == 0, "attention: \(query.shape[2]) channels in \(heads) heads")
            batch = query.shape[0]; self.heads = heads; headDim = query.shape[2] / heads
            queryLength = query.shape[1]; keyLength = key.shape[1]
        }

        /// For causal attention, the last key index row `i` may see (keys and queries aligned at the end,
        /// as PyTorch's `is_causal` with Tq == Tk).
        func lastVisibleKey(row i: Int, causal: Bool) -> Int {
            causal ? min(keyLength - 1, i + keyLength - queryLength) : keyLength - 1
        }
    }

    /// softmax(q·kᵀ·scale [+ causal mask])·v per head → [B, Tq, H·D], and the log-sum-exp of each
    /// score row [B, H, Tq] (what `backward` needs). `scale` defaults to 1/√D. `keyLengths` (one per
    /// batch row, each 1…Tk) limits row b to its first keyLengths[b] keys; nil: all Tk.
    /// Runs the fused kernel (AttentionKernel.swift) for head sizes under `fusedHeadDimLimit`, the strips
    /// above it.
    public static func forward(
        query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false, scale: Float? = nil,
        keyLengths: [Int]? = nil
    ) -> (output: Tensor, logSumExp: Tensor) {
        guard query.shape.count == 3, query.shape[2] / max(heads, 1) < fusedHeadDimLimit else {
            return stripForward(query: query, key: key, value: value, heads: heads, causal: causal, scale: scale, keyLengths: keyLengths)
        }
        return fusedForward(query: query, key: key, value: value, heads: heads, causal: causal, scale: scale, keyLengths: keyLengths)
    }

    /// Head sizes from which the strips are faster: sgemm's products at an inner dimension of 160 (SD
    /// 1.5's 16×16 level) run near its peak, and the fused kernel's advantage, packing, is gone
    /// (`dbbench kernels --attention`, 2 cores: fused / strips 0.67 at 4096 tokens × 40, 0.77 at
    /// 1024 × 80, 1.15 at 256 × 160).
    static let fusedHeadDimLimit = 128

    /// `forward` by the fused kernel, whatever the head size (benchmarks and tests).
    public static func fusedForward(
        query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false, scale: Float? = nil,
        keyLengths: [Int]? = nil
    ) -> (output: Tensor, logSumExp: Tensor) {
        let (g, scale, output, logSumExp) = prepareForward(query: query, key: key, value: value, heads: heads,
                                                           scale: scale, keyLengths: keyLengths)
        fusedForward(g, query: query, key: key, value: value, causal: causal, scale: scale, keyLengths: keyLengths,
                     output: output, logSumExp: logSumExp)
        return (output, logSumExp)
    }

    /// Checks the arguments and allocates the results of a forward pass.
    private static func prepareForward(
        query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Float?, keyLengths: [Int]?
    ) -> (Geometry, Float, output: Tensor, logSumExp: Tensor) {
        let g = Geometry(query: query, key: key, value: value, heads: heads)
        if let keyLengths {
            precondition(keyLengths.count == g.batch && keyLengths.allSatisfy { (1...g.keyLength).contains($0) },
                         "attention: key lengths \(keyLengths) for a batch of \(g.batch) with \(g.keyLength) keys")
        }
        return (g, scale ?? 1 / Float(g.headDim).squareRoot(),
                Tensor(uninitialized: query.shape), Tensor(uninitialized: [g.batch, g.heads, g.queryLength]))
    }

    /// `forward` by the strip method: per block of 32 query rows, sgemm for the scores, softmax, sgemm
    /// for P·V. The baseline the fused kernel is measured against, and a second opinion in tests.
    public static func stripForward(
        query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false, scale: Float? = nil,
        keyLengths: [Int]? = nil
    ) -> (output: Tensor, logSumExp: Tensor) {
        let (g, scale, output, logSumExp) = prepareForward(query: query, key: key, value: value, heads: heads,
                                                           scale: scale, keyLengths: keyLengths)
        let blocksPerHead = (g.queryLength + queryBlock - 1) / queryBlock
        let tasks = g.batch * g.heads * blocksPerHead
        ThreadPool.shared.parallelFor(tasks) { range in
            ScratchBuffers.shared.withBuffer(queryBlock * (g.keyLength + 1)) { scratch in
                let scores = scratch
                let inverseSums = scratch + queryBlock * g.keyLength
                for task in range {
                    let bh = task / blocksPerHead
                    let b = bh / g.heads, h = bh % g.heads
                    let keys = keyLengths?[b] ?? g.keyLength  // this row's keys; the rest is padding
                    let first = (task % blocksPerHead) * queryBlock
                    let rows = min(queryBlock, g.queryLength - first)
                    let headOffset = h * g.headDim
                    let q = query.pointer + (b * g.queryLength + first) * g.rowStride + headOffset
                    let k = key.pointer + b * g.keyLength * g.rowStride + headOffset
                    let v = value.pointer + b * g.keyLength * g.rowStride + headOffset
                    let o = output.pointer + (b * g.queryLength + first) * g.rowStride + headOffset
                    let lse = logSumExp.pointer + bh * g.queryLength + first
                    // S [rows, keys] = scale · Q_blk · Kᵀ (row stride Tk)
                    MatMul.gemm(transposeB: true, m: rows, n: keys, k: g.headDim, alpha: scale,
                                a: q, lda: g.rowStride, b: k, ldb: g.rowStride,
                                c: scores, ldc: g.keyLength)
                    // S → exp(S − rowmax), left unnormalised: the 1/Σ is applied to O below.
                    for r in 0..<rows {
                        let row = scores + r * g.keyLength
                        let visible = min(g.lastVisibleKey(row: first + r, causal: causal) + 1, keys)
                        let (m, sum) = Softmax.exponentiateRow(row, into: row, count: max(visible, 0))
                        if visible < keys { (row + max(visible, 0)).update(repeating: 0, count: keys - max(visible, 0)) }
                        inverseSums[r] = sum > 0 ? 1 / sum : 0
                        lse[r] = sum > 0 ? m + Foundation.log(sum) : -.infinity
                    }
                    // O_blk [rows, D] = P · V, then each row divided by its Σ.
                    MatMul.gemm(m: rows, n: g.headDim, k: keys,
                                a: scores, lda: g.keyLength, b: v, ldb: g.rowStride,
                                c: o, ldc: g.rowStride)
                    for r in 0..<rows {
                        let row = o + r * g.rowStride
                        for d in 0..<g.headDim { row[d] *= inverseSums[r] }
                    }
                }
            }
        }
        return (output, logSumExp)
    }

    /// Adds ∂L/∂q, ∂L/∂k, ∂L/∂v into the given gradients, from the forward pass's `output` and
    /// `logSumExp`. Parallel over (batch, head) pairs: each owns its slice of dK and dV.
    public static func backward(
        gradOutput: Tensor, query: Tensor, key: Tensor, value: Tensor,
        output: Tensor, logSumExp: Tensor, heads: Int, causal: Bool = false, scale: Float? = nil,
        gradQuery: Tensor, gradKey: Tensor, gradValue: Tensor
    ) {
        let g = Geometry(query: query, key: key, value: value, heads: heads)
        let scale = scale ?? 1 / Float(g.headDim).squareRoot()
        precondition(gradOutput.shape == query.shape && output.shape == query.shape, "attention backward: gradOutput \(gradOutput.shape) for query \(query.shape)")
        precondition(gradQuery.count == query.count && gradKey.count == key.count && gradValue.count == value.count,
                     "attention backward: gradient shapes differ from inputs")
        ThreadPool.shared.parallelFor(g.batch * g.heads) { range in
            ScratchBuffers.shared.withBuffer(2 * queryBlock * g.keyLength + queryBlock) { scratch in
                let probabilities = scratch
                let gradScores = scratch + queryBlock * g.keyLength
                let rowDots = gradScores + queryBlock * g.keyLength
                for bh in range {
                    let b = bh / g.heads, h = bh % g.heads
                    let headOffset = h * g.headDim
                    let kBase = b * g.keyLength * g.rowStride + headOffset
                    var first = 0
                    while first < g.queryLength {
                        let rows = min(queryBlock, g.queryLength - first)
                        let qOffset = (b * g.queryLength + first) * g.rowStride + headOffset
                        let lse = logSumExp.pointer + bh * g.queryLength + first
                        // P = exp(scale·Q·Kᵀ − lse), recomputed.
                        MatMul.gemm(transposeB: true, m: rows, n: g.keyLength, k: g.headDim, alpha: scale,
                                    a: query.pointer + qOffset, lda: g.rowStride,
                                    b: key.pointer + kBase, ldb: g.rowStride,
                                    c: probabilities, ldc: g.keyLength)
                        for r in 0..<rows {
                            let row = probabilities + r * g.keyLength
                            // A row that sees no key (lse = −inf) has P = 0.
                            let visible = lse[r] == -.infinity ? 0 : max(g.lastVisibleKey(row: first + r, causal: causal) + 1, 0)
                            exponentiate(row, minus: lse[r], count: visible)
                            if visible < g.keyLength { (row + visible).update(repeating: 0, count: g.keyLength - visible) }
                            // D_i = dO_i · O_i, the softmax backward's row constant.
                            var dot: Float = 0
                            let dO = gradOutput.pointer + qOffset + r * g.rowStride
                            let o = output.pointer + qOffset + r * g.rowStride
                            for d in 0..<g.headDim { dot += dO[d] * o[d] }
                            rowDots[r] = dot
                        }
                        // dV += Pᵀ · dO_blk
                        MatMul.gemm(transposeA: true, m: g.keyLength, n: g.headDim, k: rows,
                                    a: probabilities, lda: g.keyLength,
                                    b: gradOutput.pointer + qOffset, ldb: g.rowStride,
                                    beta: 1, c: gradValue.pointer + kBase, ldc: g.rowStride)
                        // dP = dO_blk · Vᵀ ;  dS = P ⊙ (dP − D)
                        MatMul.gemm(transposeB: true, m: rows, n: g.keyLength, k: g.headDim,
                                    a: gradOutput.pointer + qOffset, lda: g.rowStride,
                                    b: value.pointer + kBase, ldb: g.rowStride,
                                    c: gradScores, ldc: g.keyLength)
                        for r in 0..<rows {
                            let p = probabilities + r * g.keyLength, ds = gradScores + r * g.keyLength
                            let dot = rowDots[r]
                            for j in 0..<g.keyLength { ds[j] = p[j] * (ds[j] - dot) }
                        }
                        // dQ_blk += scale · dS · K ;  dK += scale · dSᵀ · Q_blk
                        MatMul.gemm(m: rows, n: g.headDim, k: g.keyLength, alpha: scale,
                                    a: gradScores, lda: g.keyLength, b: key.pointer + kBase, ldb: g.rowStride,
                                    beta: 1, c: gradQuery.pointer + qOffset, ldc: g.rowStride)
                        MatMul.gemm(transposeA: true, m: g.keyLength, n: g.headDim, k: rows, alpha: scale,
                                    a: gradScores, lda: g.keyLength, b: query.pointer + qOffset, ldb: g.rowStride,
                                    beta: 1, c: gradKey.pointer + kBase, ldc: g.rowStride)
                        first += rows
                    }
                }
            }
        }
    }

    /// The textbook version: materialises the whole [Tq, Tk] score matrix per head, softmax, then
    /// P·V with multi-threaded sgemm. Kept as the benchmark baseline and as a second opinion in tests.
    public static func naiveForward(
        query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false, scale: Float? = nil
    ) -> Tensor {
        let g = Geometry(query: query, key: key, value: value, heads: heads)
        let scale = scale ?? 1 / Float(g.headDim).squareRoot()
        let output = Tensor(uninitialized: query.shape)
        let scores = Tensor(uninitialized: [g.queryLength, g.keyLength])
        for b in 0..<g.batch {
            for h in 0..<g.heads {
                let qBase = b * g.queryLength * g.rowStride + h * g.headDim
                let kBase = b * g.keyLength * g.rowStride + h * g.headDim
                MatMul.gemm(transposeB: true, m: g.queryLength, n: g.keyLength, k: g.headDim, alpha: scale,
                            a: query.pointer + qBase, lda: g.rowStride, b: key.pointer + kBase, ldb: g.rowStride,
                            c: scores.pointer, ldc: g.keyLength)
                if causal {
                    for i in 0..<g.queryLength {
                        let visible = g.lastVisibleKey(row: i, causal: true) + 1
                        let row = scores.pointer + i * g.keyLength
                        for j in visible..<g.keyLength { row[j] = -.infinity }
                    }
                }
                let probabilities = Softmax.forward(scores)
                MatMul.gemm(m: g.queryLength, n: g.headDim, k: g.keyLength,
                            a: probabilities.pointer, lda: g.keyLength, b: value.pointer + kBase, ldb: g.rowStride,
                            c: output.pointer + qBase, ldc: g.rowStride)
            }
        }
        return output
    }

    /// row[j] = exp(row[j] − shift) for j < count.
    @inline(__always)
    static func exponentiate(_ row: UnsafeMutablePointer<Float>, minus shift: Float, count: Int) {
        let s = SIMD8<Float>(repeating: shift)
        var j = 0
        while j + 8 <= count { store8(VectorMath.exp(load8(row + j) - s), row + j); j += 8 }
        while j < count { row[j] = VectorMath.exp(SIMD8(repeating: row[j] - shift))[0]; j += 1 }
    }
}

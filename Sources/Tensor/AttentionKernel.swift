// The fused attention forward: softmax(Q·Kᵀ·scale)·V for one head at a time, by two register-tiled
// micro-kernels instead of two sgemm calls per block of query rows.
//
// Why not sgemm: attention's products are thin. Q·Kᵀ has an inner dimension of only the head size
// (40, 80 or 160 in SD 1.5) and P·V an output width of the head size, so every sgemm call spends a
// large share of its time packing: a 32-row block at 4096 keys repacks all of K (640 KB) for a
// product of 5 M multiply-adds, and P·V repacks P and V again. Here K and V are packed once per
// head into the layouts the micro-kernels read, the scores of a block of query rows stay in L2,
// and the products run from registers:
//
//   • scores: 6 query rows × 16 keys in 12 AVX registers; per step of the head dimension, two
//     loads of packed K and six broadcasts of Q feed twelve FMAs (the shape of OpenBLAS's own
//     Haswell kernel, which the sgemm calls never reach at an inner dimension of 40);
//   • P·V: 2 query rows × 40 output columns (5 registers a row) when the head size is a multiple
//     of 40 (all of SD 1.5's), else 3 rows × 32 columns and 3 rows × 8; keys in chunks of 128,
//     so that the chunk of packed V a tile reads stays in L1.
//
// The numerics are the strip method's (Attention.stripForward): each score row's maximum over all
// its visible keys, then exp and the sum, P·V, and the division by the sum on the D outputs. Sums
// run in a fixed order (head dimension, then keys in ascending order), whatever the thread count.
// Per-row key lengths and the causal mask are honoured exactly as there: a batch row limited to its
// first n keys computes what that row alone with n keys computes, byte for byte.
import Foundation

extension Attention {
    /// Query rows per block: a multiple of 6 (score tiles) and of 2 and 3 (P·V tiles). The block's
    /// scores, 24 × 4096 × 4 bytes = 384 KB, fit in L2 beside packed K and V.
    static let fusedQueryBlock = 24
    /// Query rows per parallel task of the second phase.
    static let fusedTaskRows = 10 * fusedQueryBlock
    /// Keys per chunk of the P·V product.
    static let valueChunk = 128
    /// Bound on the packed K and V of one group of heads, in floats (64 MiB).
    static let packedGroupFloats = 16 << 20

    /// Geometry of one head's packed operands.
    struct FusedLayout {
        let headDim: Int, keys: Int
        /// Keys rounded up to the score tile's 16.
        var paddedKeys: Int { (keys + 15) / 16 * 16 }
        /// The head size rounded up to a whole register.
        var paddedDim: Int { (headDim + 7) / 8 * 8 }
        var packedKeyCount: Int { paddedKeys * headDim }
        var packedValueCount: Int { paddedKeys * paddedDim }
        /// Per task: the packed query block, its scores, its unnormalised outputs, its row sums.
        func blockScratchCount(queryBlock: Int) -> Int {
            queryBlock * (headDim + paddedKeys + paddedDim + 1)
        }
    }

    /// The fused forward. Same contract as `forward`. Heads go in groups whose packed K and V fit
    /// `packedGroupFloats`; per group, two parallel phases: every (batch row, head) packs its K and V
    /// once, then tasks of `fusedTaskRows` query rows compute from them. (Packing per task instead
    /// cost a third of the time at 4096 tokens; tasks of whole heads would leave a single-head
    /// attention, as the VAE's, on one thread.)
    static func fusedForward(
        _ g: Geometry, query: Tensor, key: Tensor, value: Tensor, causal: Bool, scale: Float, keyLengths: [Int]?,
        output: Tensor, logSumExp: Tensor
    ) {
        let pairs = g.batch * g.heads
        let full = FusedLayout(headDim: g.headDim, keys: g.keyLength)
        let pairFloats = full.packedKeyCount + full.packedValueCount
        let pairsPerGroup = max(1, min(pairs, packedGroupFloats / pairFloats))
        let chunksPerHead = (g.queryLength + fusedTaskRows - 1) / fusedTaskRows
        func layout(_ bh: Int) -> FusedLayout {
            FusedLayout(headDim: g.headDim, keys: keyLengths?[bh / g.heads] ?? g.keyLength)
        }
        ScratchBuffers.shared.withBuffer(pairsPerGroup * pairFloats) { packed in
            var firstPair = 0
            while firstPair < pairs {
                let groupPairs = min(pairsPerGroup, pairs - firstPair)
                let group = firstPair
                ThreadPool.shared.parallelFor(groupPairs) { range in
                    for index in range {
                        let bh = group + index, b = bh / g.heads, h = bh % g.heads
                        let keys = packed + index * pairFloats
                        let offset = b * g.keyLength * g.rowStride + h * g.headDim
                        packKeys(key.pointer + offset, rowStride: g.rowStride, layout(bh), into: keys)
                        packValues(value.pointer + offset, rowStride: g.rowStride, layout(bh), into: keys + full.packedKeyCount)
                    }
                }
                ThreadPool.shared.parallelFor(groupPairs * chunksPerHead) { range in
                    ScratchBuffers.shared.withBuffer(full.blockScratchCount(queryBlock: fusedQueryBlock)) { scratch in
                        for task in range {
                            let index = task / chunksPerHead, bh = group + index
                            let keys = packed + index * pairFloats
                            let firstRow = (task % chunksPerHead) * fusedTaskRows
                            attendRows(g, pair: bh, rows: firstRow..<min(firstRow + fusedTaskRows, g.queryLength), layout(bh),
                                       packedKeys: keys, packedValues: keys + full.packedKeyCount, query: query, causal: causal,
                                       scale: scale, output: output, logSumExp: logSumExp, scratch: scratch)
                        }
                    }
                }
                firstPair += groupPairs
            }
        }
    }

    /// Query rows `rows` of one (batch row, head) pair, block by block, from its packed K and V.
    private static func attendRows(
        _ g: Geometry, pair bh: Int, rows: Range<Int>, _ layout: FusedLayout,
        packedKeys: UnsafePointer<Float>, packedValues: UnsafePointer<Float>, query: Tensor, causal: Bool, scale: Float,
        output: Tensor, logSumExp: Tensor, scratch: UnsafeMutablePointer<Float>
    ) {
        let b = bh / g.heads, headOffset = (bh % g.heads) * g.headDim
        let packedQuery = scratch
        let scores = packedQuery + fusedQueryBlock * g.headDim
        let outputs = scores + fusedQueryBlock * layout.paddedKeys
        let inverseSums = outputs + fusedQueryBlock * layout.paddedDim
        var first = rows.lowerBound
        while first < rows.upperBound {
            let count = min(fusedQueryBlock, rows.upperBound - first)
            let q = query.pointer + (b * g.queryLength + first) * g.rowStride + headOffset
            packQuery(q, rowStride: g.rowStride, rows: count, headDim: g.headDim, scale: scale, into: packedQuery)
            computeScores(packedQuery, packedKeys, layout, into: scores)
            let lse = logSumExp.pointer + bh * g.queryLength + first
            for r in 0..<fusedQueryBlock {
                let row = scores + r * layout.paddedKeys
                let visible = r < count ? max(min(g.lastVisibleKey(row: first + r, causal: causal) + 1, layout.keys), 0) : 0
                let (m, sum) = Softmax.exponentiateRow(row, into: row, count: visible)
                if visible < layout.paddedKeys { (row + visible).update(repeating: 0, count: layout.paddedKeys - visible) }
                inverseSums[r] = sum > 0 ? 1 / sum : 0
                if r < count { lse[r] = sum > 0 ? m + Foundation.log(sum) : -.infinity }
            }
            multiplyValues(scores, packedValues, layout, into: outputs)
            let o = output.pointer + (b * g.queryLength + first) * g.rowStride + headOffset
            for r in 0..<count {
                let source = outputs + r * layout.paddedDim, target = o + r * g.rowStride
                let inverse = inverseSums[r]
                for d in 0..<g.headDim { target[d] = source[d] * inverse }
            }
            first += count
        }
    }

    /// K [keys, D] (row stride `rowStride`) → groups of 16 keys, each [D][16]; keys past the end are 0.
    /// Written in order (sixteen read streams, one write stream).
    static func packKeys(_ k: UnsafePointer<Float>, rowStride: Int, _ layout: FusedLayout, into packed: UnsafeMutablePointer<Float>) {
        let d = layout.headDim
        for group in 0..<(layout.paddedKeys / 16) {
            let target = packed + group * d * 16
            let lanes = min(16, layout.keys - group * 16)
            let source = k + group * 16 * rowStride
            if lanes < 16 { target.update(repeating: 0, count: d * 16) }
            for c in 0..<d {
                let column = target + c * 16
                for lane in 0..<lanes { column[lane] = source[lane * rowStride + c] }
            }
        }
    }

    /// V [keys, D] → [paddedKeys, paddedDim], zero-padded (P·V multiplies the padding by zero, and
    /// a NaN there would survive that).
    static func packValues(_ v: UnsafePointer<Float>, rowStride: Int, _ layout: FusedLayout, into packed: UnsafeMutablePointer<Float>) {
        let d = layout.headDim, width = layout.paddedDim
        for j in 0..<layout.paddedKeys {
            let target = packed + j * width
            if j < layout.keys {
                (target).update(from: v + j * rowStride, count: d)
                if width > d { (target + d).update(repeating: 0, count: width - d) }
            } else {
                target.update(repeating: 0, count: width)
            }
        }
    }

    /// scale · Q rows → [fusedQueryBlock, D]; rows past `rows` are 0.
    static func packQuery(_ q: UnsafePointer<Float>, rowStride: Int, rows: Int, headDim: Int, scale: Float,
                          into packed: UnsafeMutablePointer<Float>) {
        for r in 0..<fusedQueryBlock {
            let target = packed + r * headDim
            if r < rows {
                let source = q + r * rowStride
                for c in 0..<headDim { target[c] = source[c] * scale }
            } else {
                target.update(repeating: 0, count: headDim)
            }
        }
    }

    /// S [fusedQueryBlock, paddedKeys] = packed Q · packed Kᵀ, a 16-key group at a time (its packed
    /// K stays in L1 across the block's four row tiles).
    static func computeScores(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ layout: FusedLayout,
                              into s: UnsafeMutablePointer<Float>) {
        let d = layout.headDim
        for group in 0..<(layout.paddedKeys / 16) {
            for tile in stride(from: 0, to: fusedQueryBlock, by: 6) {
                scoreTile(q + tile * d, k + group * d * 16, depth: d, into: s + tile * layout.paddedKeys + group * 16,
                          stride: layout.paddedKeys)
            }
        }
    }

    /// The 6 × 16 score micro-kernel: s[r][0..<16] = Σ_c q[r][c] · k[c][0..<16].
    @inline(__always)
    static func scoreTile(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, depth: Int,
                          into s: UnsafeMutablePointer<Float>, stride: Int) {
        var a0 = SIMD8<Float>(), b0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b1 = SIMD8<Float>()
        var a2 = SIMD8<Float>(), b2 = SIMD8<Float>(), a3 = SIMD8<Float>(), b3 = SIMD8<Float>()
        var a4 = SIMD8<Float>(), b4 = SIMD8<Float>(), a5 = SIMD8<Float>(), b5 = SIMD8<Float>()
        for c in 0..<depth {
            let kl = load8(k + c * 16), kh = load8(k + c * 16 + 8)
            var x = SIMD8<Float>(repeating: q[c])
            a0 = a0.addingProduct(x, kl); b0 = b0.addingProduct(x, kh)
            x = SIMD8(repeating: q[depth + c])
            a1 = a1.addingProduct(x, kl); b1 = b1.addingProduct(x, kh)
            x = SIMD8(repeating: q[2 * depth + c])
            a2 = a2.addingProduct(x, kl); b2 = b2.addingProduct(x, kh)
            x = SIMD8(repeating: q[3 * depth + c])
            a3 = a3.addingProduct(x, kl); b3 = b3.addingProduct(x, kh)
            x = SIMD8(repeating: q[4 * depth + c])
            a4 = a4.addingProduct(x, kl); b4 = b4.addingProduct(x, kh)
            x = SIMD8(repeating: q[5 * depth + c])
            a5 = a5.addingProduct(x, kl); b5 = b5.addingProduct(x, kh)
        }
        store8(a0, s); store8(b0, s + 8)
        store8(a1, s + stride); store8(b1, s + stride + 8)
        store8(a2, s + 2 * stride); store8(b2, s + 2 * stride + 8)
        store8(a3, s + 3 * stride); store8(b3, s + 3 * stride + 8)
        store8(a4, s + 4 * stride); store8(b4, s + 4 * stride + 8)
        store8(a5, s + 5 * stride); store8(b5, s + 5 * stride + 8)
    }

    /// O [fusedQueryBlock, paddedDim] = P · packed V, in chunks of `valueChunk` keys; each tile's
    /// accumulators are reloaded from O between chunks, so the sum over keys runs in key order.
    static func multiplyValues(_ p: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ layout: FusedLayout,
                               into o: UnsafeMutablePointer<Float>) {
        let width = layout.paddedDim, pStride = layout.paddedKeys
        o.update(repeating: 0, count: fusedQueryBlock * width)
        var start = 0
        while start < layout.paddedKeys {
            let count = min(valueChunk, layout.paddedKeys - start)
            let pChunk = p + start, vChunk = v + start * width
            if width % 40 == 0 {
                for column in stride(from: 0, to: width, by: 40) {
                    for row in stride(from: 0, to: fusedQueryBlock, by: 2) {
                        valueTile2x40(pChunk + row * pStride, pStride: pStride, vChunk + column, vStride: width, keys: count,
                                      into: o + row * width + column, oStride: width)
                    }
                }
            } else {
                var column = 0
                while column + 32 <= width {
                    for row in stride(from: 0, to: fusedQueryBlock, by: 3) {
                        valueTile3x32(pChunk + row * pStride, pStride: pStride, vChunk + column, vStride: width, keys: count,
                                      into: o + row * width + column, oStride: width)
                    }
                    column += 32
                }
                while column < width {
                    for row in stride(from: 0, to: fusedQueryBlock, by: 3) {
                        valueTile3x8(pChunk + row * pStride, pStride: pStride, vChunk + column, vStride: width, keys: count,
                                     into: o + row * width + column, oStride: width)
                    }
                    column += 8
                }
            }
            start += count
        }
    }

    /// o[r][0..<40] += Σ_j p[r][j] · v[j][0..<40] for two rows: 10 accumulators.
    @inline(__always)
    static func valueTile2x40(_ p: UnsafePointer<Float>, pStride: Int, _ v: UnsafePointer<Float>, vStride: Int, keys: Int,
                              into o: UnsafeMutablePointer<Float>, oStride: Int) {
        let o1 = o + oStride
        var a0 = load8(o), a1 = load8(o + 8), a2 = load8(o + 16), a3 = load8(o + 24), a4 = load8(o + 32)
        var b0 = load8(o1), b1 = load8(o1 + 8), b2 = load8(o1 + 16), b3 = load8(o1 + 24), b4 = load8(o1 + 32)
        let p1 = p + pStride
        for j in 0..<keys {
            let x = SIMD8<Float>(repeating: p[j]), y = SIMD8<Float>(repeating: p1[j])
            let row = v + j * vStride
            var w = load8(row)
            a0 = a0.addingProduct(x, w); b0 = b0.addingProduct(y, w)
            w = load8(row + 8)
            a1 = a1.addingProduct(x, w); b1 = b1.addingProduct(y, w)
            w = load8(row + 16)
            a2 = a2.addingProduct(x, w); b2 = b2.addingProduct(y, w)
            w = load8(row + 24)
            a3 = a3.addingProduct(x, w); b3 = b3.addingProduct(y, w)
            w = load8(row + 32)
            a4 = a4.addingProduct(x, w); b4 = b4.addingProduct(y, w)
        }
        store8(a0, o); store8(a1, o + 8); store8(a2, o + 16); store8(a3, o + 24); store8(a4, o + 32)
        store8(b0, o1); store8(b1, o1 + 8); store8(b2, o1 + 16); store8(b3, o1 + 24); store8(b4, o1 + 32)
    }

    /// o[r][0..<32] += Σ_j p[r][j] · v[j][0..<32] for three rows: 12 accumulators.
    @inline(__always)
    static func valueTile3x32(_ p: UnsafePointer<Float>, pStride: Int, _ v: UnsafePointer<Float>, vStride: Int, keys: Int,
                              into o: UnsafeMutablePointer<Float>, oStride: Int) {
        let o1 = o + oStride, o2 = o1 + oStride
        var a0 = load8(o), a1 = load8(o + 8), a2 = load8(o + 16), a3 = load8(o + 24)
        var b0 = load8(o1), b1 = load8(o1 + 8), b2 = load8(o1 + 16), b3 = load8(o1 + 24)
        var c0 = load8(o2), c1 = load8(o2 + 8), c2 = load8(o2 + 16), c3 = load8(o2 + 24)
        let p1 = p + pStride, p2 = p1 + pStride
        for j in 0..<keys {
            let x = SIMD8<Float>(repeating: p[j]), y = SIMD8<Float>(repeating: p1[j]), z = SIMD8<Float>(repeating: p2[j])
            let row = v + j * vStride
            var w = load8(row)
            a0 = a0.addingProduct(x, w); b0 = b0.addingProduct(y, w); c0 = c0.addingProduct(z, w)
            w = load8(row + 8)
            a1 = a1.addingProduct(x, w); b1 = b1.addingProduct(y, w); c1 = c1.addingProduct(z, w)
            w = load8(row + 16)
            a2 = a2.addingProduct(x, w); b2 = b2.addingProduct(y, w); c2 = c2.addingProduct(z, w)
            w = load8(row + 24)
            a3 = a3.addingProduct(x, w); b3 = b3.addingProduct(y, w); c3 = c3.addingProduct(z, w)
        }
        store8(a0, o); store8(a1, o + 8); store8(a2, o + 16); store8(a3, o + 24)
        store8(b0, o1); store8(b1, o1 + 8); store8(b2, o1 + 16); store8(b3, o1 + 24)
        store8(c0, o2); store8(c1, o2 + 8); store8(c2, o2 + 16); store8(c3, o2 + 24)
    }

    /// o[r][0..<8] += Σ_j p[r][j] · v[j][0..<8] for three rows (the last columns of a head size that
    /// is not a multiple of 32).
    @inline(__always)
    static func valueTile3x8(_ p: UnsafePointer<Float>, pStride: Int, _ v: UnsafePointer<Float>, vStride: Int, keys: Int,
                             into o: UnsafeMutablePointer<Float>, oStride: Int) {
        let o1 = o + oStride, o2 = o1 + oStride
        var a = load8(o), b = load8(o1), c = load8(o2)
        let p1 = p + pStride, p2 = p1 + pStride
        for j in 0..<keys {
            let w = load8(v + j * vStride)
            a = a.addingProduct(SIMD8(repeating: p[j]), w)
            b = b.addingProduct(SIMD8(repeating: p1[j]), w)
            c = c.addingProduct(SIMD8(repeating: p2[j]), w)
        }
        store8(a, o); store8(b, o1); store8(c, o2)
    }
}

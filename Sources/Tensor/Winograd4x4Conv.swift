// 3×3 stride-1 padding-1 convolution by Winograd's F(4×4, 3×3) (Lavin & Gray 2015, interpolation points
// 0, ±1, ±2, ∞): each 4×4 block of outputs comes from a 6×6 input tile as
//     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,
// and, as in F(2×2) (WinogradConv), the element-wise product summed over input channels is one matrix
// product per tile position: 36 products M_ξ [Co, tiles] = U_ξ [Co, Ci] · V_ξ [Ci, tiles] for every 16
// outputs, where F(2×2) makes 16 for every 4 — 2.25 multiply-adds per output instead of 4 (direct: 9).
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//   G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
// Its larger constants (up to 8 in Aᵀ) magnify fp32 rounding more than F(2×2)'s: summing the same
// products in blocks of another width moves results by 3e-6 of scale, where F(2×2)'s move by under
// 1e-6. It stays within 1e-5 of the output's scale on every SD 1.5 layer shape (tested against a
// float64 direct convolution).
// Transforms work on eight tiles of a row at once, one per vector lane; edge tiles, cut by the image's
// border, go through the same arithmetic with the lanes outside the image read as zeros. Tiles are
// processed in blocks of whole tile rows (no whole-image transform), and every output element is
// computed by the same arithmetic whatever the thread count.
import Foundation

/// Winograd F(4×4, 3×3) convolution.
public enum Winograd4x4Conv: WinogradTransforms {
    static let outputTile = 4
    static let name = "F(4×4, 3×3)"

    /// x [N, Ci, H, W] ∗ weight [Co, Ci, 3, 3] + bias (+ the epilogue's terms) → [N, Co, H, W].
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, epilogue: ConvolutionEpilogue = .none) -> Tensor {
        convolution(x, weight: weight, bias: bias,
                    blockFloats: blockFloats(for: Conv2D.Geometry(input: x.shape, weight: weight.shape, stride: 1, padding: 1)),
                    epilogue: epilogue)
    }

    /// `forward` with an explicit block bound (tests use a tiny one: a tile row per block).
    static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, blockFloats: Int) -> Tensor {
        convolution(x, weight: weight, bias: bias, blockFloats: blockFloats, epilogue: .none)
    }

    /// The input gradient of a 3×3 stride-1 padding-1 convolution, added into `gradInput` (WinogradTransforms).
    public static func backwardInput(gradOutput: Tensor, weight: Tensor, gradInput: Tensor) {
        addInputGradient(gradOutput: gradOutput, weight: weight, gradInput: gradInput, blockFloats: blockFloats)
    }

    /// U_ξ[co, ci] = (G g Gᵀ)_ξ for every filter, stored [36, Co, Ci]; with `adjoint`, the input
    /// gradient's filters instead: U_ξ[ci, co] from weight[co, ci] turned 180°, stored [36, Ci, Co].
    /// Eight filters of a row of U at a time, one per lane, so that U is written in runs of eight.
    static func transformFilters(_ weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int, adjoint: Bool = false,
                                 into u: UnsafeMutablePointer<Float>) {
        let plane = outChannels * inChannels
        // U's rows and columns: (co, ci), or (ci, co) for the adjoint.
        let rows = adjoint ? inChannels : outChannels, columns = adjoint ? outChannels : inChannels
        ThreadPool.shared.parallelFor(rows, grain: max(1, 2048 / max(columns, 1))) { range in
            for r in range {
                var c = 0
                while c < columns {
                    let lanes = min(8, columns - c)
                    // Tap t of the filter in lane l (turned 180° for the adjoint: tap 8 − t).
                    @inline(__always) func tap(_ t: Int) -> SIMD8<Float> {
                        var v = SIMD8<Float>.zero
                        for l in 0..<lanes {
                            v[l] = adjoint ? weight[((c + l) * inChannels + r) * 9 + 8 - t] : weight[(r * inChannels + c + l) * 9 + t]
                        }
                        return v
                    }
                    // G·g column by column (six rows of three), then each row ·Gᵀ (six values).
                    let g0 = applyG(tap(0), tap(3), tap(6)), g1 = applyG(tap(1), tap(4), tap(7)), g2 = applyG(tap(2), tap(5), tap(8))
                    let out = u + r * columns + c
                    @inline(__always) func store(_ i: Int, _ a: SIMD8<Float>, _ b: SIMD8<Float>, _ d: SIMD8<Float>) {
                        let row = applyG(a, b, d)
                        @inline(__always) func put(_ j: Int, _ value: SIMD8<Float>) {
                            let target = out + (6 * i + j) * plane
                            if lanes == 8 { store8(value, target) } else { for l in 0..<lanes { target[l] = value[l] } }
                        }
                        put(0, row.0); put(1, row.1); put(2, row.2); put(3, row.3); put(4, row.4); put(5, row.5)
                    }
                    store(0, g0.0, g1.0, g2.0); store(1, g0.1, g1.1, g2.1); store(2, g0.2, g1.2, g2.2)
                    store(3, g0.3, g1.3, g2.3); store(4, g0.4, g1.4, g2.4); store(5, g0.5, g1.5, g2.5)
                    c += lanes
                }
            }
        }
    }

    /// G·(a, b, c), lane by lane: the six rows of G applied to three values.
    @inline(__always)
    private static func applyG(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>)
        -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let outer = (a + c) / 6, inner = b / 6
        let even = (a / 4 + c) / 6, odd = b / 12  // a/24 + c/6, b/12
        return (a / 4, -(outer + inner), inner - outer, even + odd, even - odd, c)
    }

    /// Six vectors: lane l of vector j is element j of tile l (of up to eight consecutive tiles).
    typealias Six = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

    /// Bᵀ·x for six vectors (the same arithmetic in every lane).
    @inline(__always)
    static func applyBT(_ x: Six) -> Six {
        let four = SIMD8<Float>(repeating: 4), five = SIMD8<Float>(repeating: 5), two = SIMD8<Float>(repeating: 2)
        let a = x.4 - four * x.2, b = x.3 - four * x.1  // rows 1, 2
        let c = x.4 - x.2, d = two * (x.3 - x.1)  // rows 3, 4
        return (four * x.0 - five * x.2 + x.4, a + b, a - b, c + d, c - d, four * x.1 - five * x.3 + x.5)
    }

    /// V_ξ[ci, t] = (Bᵀ d B)_ξ for the 6×6 input tile d of tile t (zero outside the image), [36, Ci, tiles].
    static func transformInput(_ image: UnsafePointer<Float>, _ g: Conv2D.Geometry, firstTileRow: Int, tileRows: Int,
                               tilesX: Int, columns: Int, into v: UnsafeMutablePointer<Float>) {
        let tiles = tileRows * tilesX, plane = g.inChannels * columns
        ThreadPool.shared.parallelFor(g.inChannels, grain: max(1, 1024 / max(tiles, 1))) { range in
            for ci in range {
                let channel = image + ci * g.inPlane
                for ty in 0..<tileRows {
                    let y0 = 4 * (firstTileRow + ty) - 1
                    let out = v + ci * columns + ty * tilesX
                    var tx = 0
                    while tx < tilesX {
                        let lanes = min(8, tilesX - tx), x0 = 4 * tx - 1
                        // Inside the image all 6 + 4·(lanes − 1) columns, or lane by lane with zeros outside.
                        let inside = x0 >= 0 && x0 + 4 * lanes + 1 < g.inWidth
                        @inline(__always) func inputRow(_ dy: Int) -> Six {
                            let y = y0 + dy
                            guard y >= 0 && y < g.inHeight else { return (.zero, .zero, .zero, .zero, .zero, .zero) }
                            let row = channel + y * g.inWidth
                            @inline(__always) func gather(_ j: Int) -> SIMD8<Float> {
                                let p = row + x0 + j
                                if inside && lanes == 8 { return SIMD8(p[0], p[4], p[8], p[12], p[16], p[20], p[24], p[28]) }
                                var v = SIMD8<Float>.zero
                                for l in 0..<lanes where x0 + 4 * l + j >= 0 && x0 + 4 * l + j < g.inWidth { v[l] = p[4 * l] }
                                return v
                            }
                            return (gather(0), gather(1), gather(2), gather(3), gather(4), gather(5))
                        }
                        // Bᵀ·d: combinations of the six rows, column by column; then ·B within each row.
                        let d = (inputRow(0), inputRow(1), inputRow(2), inputRow(3), inputRow(4), inputRow(5))
                        let t0 = applyBT((d.0.0, d.1.0, d.2.0, d.3.0, d.4.0, d.5.0))
                        let t1 = applyBT((d.0.1, d.1.1, d.2.1, d.3.1, d.4.1, d.5.1))
                        let t2 = applyBT((d.0.2, d.1.2, d.2.2, d.3.2, d.4.2, d.5.2))
                        let t3 = applyBT((d.0.3, d.1.3, d.2.3, d.3.3, d.4.3, d.5.3))
                        let t4 = applyBT((d.0.4, d.1.4, d.2.4, d.3.4, d.4.4, d.5.4))
                        let t5 = applyBT((d.0.5, d.1.5, d.2.5, d.3.5, d.4.5, d.5.5))
                        @inline(__always) func put(_ value: SIMD8<Float>, _ xi: Int) {
                            let target = out + xi * plane + tx
                            if lanes == 8 { store8(value, target) } else { for l in 0..<lanes { target[l] = value[l] } }
                        }
                        @inline(__always) func store(_ i: Int, _ row: Six) {
                            let r = applyBT(row)
                            put(r.0, 6 * i); put(r.1, 6 * i + 1); put(r.2, 6 * i + 2)
                            put(r.3, 6 * i + 3); put(r.4, 6 * i + 4); put(r.5, 6 * i + 5)
                        }
                        store(0, (t0.0, t1.0, t2.0, t3.0, t4.0, t5.0))
                        store(1, (t0.1, t1.1, t2.1, t3.1, t4.1, t5.1))
                        store(2, (t0.2, t1.2, t2.2, t3.2, t4.2, t5.2))
                        store(3, (t0.3, t1.3, t2.3, t3.3, t4.3, t5.3))
                        store(4, (t0.4, t1.4, t2.4, t3.4, t4.4, t5.4))
                        store(5, (t0.5, t1.5, t2.5, t3.5, t4.5, t5.5))
                        tx += lanes
                    }
                }
            }
        }
    }

    /// Aᵀ·m for six vectors: four.
    @inline(__always)
    static func applyAT(_ m: Six) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let s = m.1 + m.2, d = m.1 - m.2, s2 = m.3 + m.4, d2 = m.3 - m.4
        return (m.0 + s + s2, d + 2 * d2, s + 4 * s2, d + 8 * d2 + m.5)
    }

    /// Y = Aᵀ M A + bias (+ residual at the same place) for each tile, written where it lies in the
    /// output (cut at the image's edges).
    static func transformOutput(_ m: UnsafePointer<Float>, _ g: Conv2D.Geometry, firstTileRow: Int, tileRows: Int, tilesX: Int,
                                columns: Int, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, into result: UnsafeMutablePointer<Float>) {
        let tiles = tileRows * tilesX, plane = g.outChannels * columns
        ThreadPool.shared.parallelFor(g.outChannels, grain: max(1, 1024 / max(tiles, 1))) { range in
            for co in range {
                let channel = result + co * g.outPlane
                let skip = residual.map { $0 + co * g.outPlane }
                let b = bias?[co] ?? 0
                for ty in 0..<tileRows {
                    let oy = 4 * (firstTileRow + ty)
                    let p = m + co * columns + ty * tilesX
                    var tx = 0
                    while tx < tilesX {
                        let lanes = min(8, tilesX - tx)
                        @inline(__always) func at(_ xi: Int) -> SIMD8<Float> {
                            if lanes == 8 { return load8(p + xi * plane + tx) }
                            var v = SIMD8<Float>.zero
                            for l in 0..<lanes { v[l] = p[xi * plane + tx + l] }
                            return v
                        }
                        // Aᵀ·M: rows of M combined, column by column; then ·A within each row.
                        let c0 = applyAT((at(0), at(6), at(12), at(18), at(24), at(30)))
                        let c1 = applyAT((at(1), at(7), at(13), at(19), at(25), at(31)))
                        let c2 = applyAT((at(2), at(8), at(14), at(20), at(26), at(32)))
                        let c3 = applyAT((at(3), at(9), at(15), at(21), at(27), at(33)))
                        let c4 = applyAT((at(4), at(10), at(16), at(22), at(28), at(34)))
                        let c5 = applyAT((at(5), at(11), at(17), at(23), at(29), at(35)))
                        @inline(__always) func store(_ r: Int, _ row: Six) {
                            guard oy + r < g.outHeight else { return }
                            let bias8 = SIMD8<Float>(repeating: b)
                            let y = applyAT(row)
                            let (y0, y1, y2, y3) = (y.0 + bias8, y.1 + bias8, y.2 + bias8, y.3 + bias8)
                            let rowStart = (oy + r) * g.outWidth, ox = 4 * tx
                            if lanes == 8 && ox + 32 <= g.outWidth {
                                // Interleave: output column 4·l + k is lane l of y_k.
                                for half in 0..<4 {
                                    let l = 2 * half
                                    var v = SIMD8(y0[l], y1[l], y2[l], y3[l], y0[l + 1], y1[l + 1], y2[l + 1], y3[l + 1])
                                    let offset = rowStart + ox + 8 * half
                                    if let skip { v += load8(skip + offset) }
                                    store8(v, channel + offset)
                                }
                                return
                            }
                            for l in 0..<lanes {
                                let x = ox + 4 * l
                                @inline(__always) func put(_ k: Int, _ value: Float) {
                                    guard x + k < g.outWidth else { return }
                                    channel[rowStart + x + k] = value + (skip?[rowStart + x + k] ?? 0)
                                }
                                put(0, y0[l]); put(1, y1[l]); put(2, y2[l]); put(3, y3[l])
                            }
                        }
                        store(0, (c0.0, c1.0, c2.0, c3.0, c4.0, c5.0))
                        store(1, (c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
                        store(2, (c0.2, c1.2, c2.2, c3.2, c4.2, c5.2))
                        store(3, (c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))
                        tx += lanes
                    }
                }
            }
        }
    }
}

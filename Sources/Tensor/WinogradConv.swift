// 3×3 stride-1 padding-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2015): each 2×2 block of outputs comes from a
// 4×4 input tile as  Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,  and the element-wise product summed over input
// channels is, for each of the 16 tile positions ξ, one matrix product
//     M_ξ [Co, tiles] = U_ξ [Co, Ci] · V_ξ [Ci, tiles]        (U = G g Gᵀ, V = Bᵀ d B)
// — 16 products where im2col makes one 9× wider one over 4× more columns: 2.25× fewer multiply-adds.
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]   Aᵀ = [1 1 1 0; 0 1 −1 −1]
// Tiles are processed in blocks of whole tile rows, so no whole-image transform exists (a 512 px VAE
// layer would need 0.5 GB): a block's V and M are bounded by `blockFloats`.
// Every output element is computed by the same arithmetic whatever the thread count: transforms are
// split by channel, the products by MatMul's fixed partition, and blocks by the image's geometry.
// F(2×2) keeps fp32 error at the direct method's level. Conv2D picks F(4×4) (Winograd4x4Conv) where
// either is faster than im2col — it was the faster of the two on every such shape measured — so this one
// is there by name (`Conv2D.Method.winograd2x2`) for comparison and benchmarks.
import Foundation

/// Winograd F(2×2, 3×3) convolution.
public enum WinogradConv: WinogradTransforms {
    static let outputTile = 2
    static let name = "F(2×2, 3×3)"

    /// Whether `g` is a convolution this method computes: 3×3, stride 1, padding 1.
    public static func applies(to g: Conv2D.Geometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.padding == 1
    }

    /// x [N, Ci, H, W] ∗ weight [Co, Ci, 3, 3] + bias (+ the epilogue's terms) → [N, Co, H, W].
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, epilogue: ConvolutionEpilogue = .none) -> Tensor {
        convolution(x, weight: weight, bias: bias, blockFloats: blockFloats, epilogue: epilogue)
    }

    /// `forward` with an explicit block bound (tests use a tiny one: a tile row per block).
    static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, blockFloats: Int) -> Tensor {
        convolution(x, weight: weight, bias: bias, blockFloats: blockFloats, epilogue: .none)
    }

    /// The input gradient of a 3×3 stride-1 padding-1 convolution, added into `gradInput` (WinogradTransforms).
    public static func backwardInput(gradOutput: Tensor, weight: Tensor, gradInput: Tensor) {
        addInputGradient(gradOutput: gradOutput, weight: weight, gradInput: gradInput, blockFloats: blockFloats)
    }

    /// U_ξ[co, ci] = (G g Gᵀ)_ξ for every filter, stored [16, Co, Ci]; with `adjoint`, the filters of
    /// the input gradient instead: U_ξ[ci, co] from weight[co, ci] turned 180°, stored [16, Ci, Co].
    static func transformFilters(_ weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int, adjoint: Bool = false,
                                 into u: UnsafeMutablePointer<Float>) {
        let plane = outChannels * inChannels
        ThreadPool.shared.parallelFor(outChannels, grain: max(1, 4096 / max(inChannels, 1))) { range in
            for co in range {
                for ci in 0..<inChannels {
                    let f = weight + (co * inChannels + ci) * 9
                    // G·g (4 rows of 3, lanes = filter columns), then each row ·Gᵀ.
                    var g0 = SIMD4<Float>(f[0], f[1], f[2], 0), g1 = SIMD4<Float>(f[3], f[4], f[5], 0)
                    var g2 = SIMD4<Float>(f[6], f[7], f[8], 0)
                    if adjoint {  // turned 180°: rows reversed, and columns within each row
                        (g0, g1, g2) = (SIMD4(f[8], f[7], f[6], 0), SIMD4(f[5], f[4], f[3], 0), SIMD4(f[2], f[1], f[0], 0))
                    }
                    let out = u + (adjoint ? ci * outChannels + co : co * inChannels + ci)
                    @inline(__always) func store(_ r: Int, _ t: SIMD4<Float>) {
                        out[(4 * r + 0) * plane] = t[0]
                        out[(4 * r + 1) * plane] = 0.5 * (t[0] + t[1] + t[2])
                        out[(4 * r + 2) * plane] = 0.5 * (t[0] - t[1] + t[2])
                        out[(4 * r + 3) * plane] = t[2]
                    }
                    store(0, g0); store(1, 0.5 * (g0 + g1 + g2)); store(2, 0.5 * (g0 - g1 + g2)); store(3, g2)
                }
            }
        }
    }

    /// V_ξ[ci, t] = (Bᵀ d B)_ξ for the 4×4 input tile d of tile t (zero outside the image), [16, Ci, tiles].
    /// Eight tiles of a row at a time, in vectors (the same arithmetic as one at a time, lane by lane).
    static func transformInput(_ image: UnsafePointer<Float>, _ g: Conv2D.Geometry, firstTileRow: Int, tileRows: Int,
                               tilesX: Int, columns: Int, into v: UnsafeMutablePointer<Float>) {
        let tiles = tileRows * tilesX, plane = g.inChannels * columns
        ThreadPool.shared.parallelFor(g.inChannels, grain: max(1, 2048 / max(tiles, 1))) { range in
            for ci in range {
                let channel = image + ci * g.inPlane
                for ty in 0..<tileRows {
                    let y0 = 2 * (firstTileRow + ty) - 1
                    @inline(__always) func row(_ y: Int) -> UnsafePointer<Float>? {
                        y >= 0 && y < g.inHeight ? channel + y * g.inWidth : nil
                    }
                    let rows = (row(y0), row(y0 + 1), row(y0 + 2), row(y0 + 3))
                    let out = v + ci * columns + ty * tilesX
                    // The first tile reaches into the left padding: one at a time. Then eight tiles,
                    // reading input columns 2·tx − 1 ... 2·tx + 16, while those lie inside the image.
                    transformOneTile(rows, g, x0: -1, into: out, plane: plane)
                    var tx = 1
                    while tx + 8 <= tilesX && 2 * tx + 17 <= g.inWidth {
                        transformEightTiles(rows, x0: 2 * tx - 1, into: out + tx, plane: plane)
                        tx += 8
                    }
                    while tx < tilesX {
                        transformOneTile(rows, g, x0: 2 * tx - 1, into: out + tx, plane: plane)
                        tx += 1
                    }
                }
            }
        }
    }

    /// The four input rows of a row of tiles (nil: outside the image, zeros).
    typealias TileRows = (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?)

    /// Input columns x0 + c, x0 + c + 2, …, x0 + c + 14 (column c of eight consecutive tiles).
    @inline(__always)
    private static func tileColumns(_ row: UnsafePointer<Float>?, x0: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        guard let row else { return (.zero, .zero, .zero, .zero) }
        let p = row + x0
        let a = SIMD16<Float>(UnsafeBufferPointer(start: p, count: 16)), b = SIMD2<Float>(p[16], p[17])
        let even = a.evenHalf, odd = a.oddHalf
        let evenShifted = SIMD8(even[1], even[2], even[3], even[4], even[5], even[6], even[7], b[0])
        let oddShifted = SIMD8(odd[1], odd[2], odd[3], odd[4], odd[5], odd[6], odd[7], b[1])
        return (even, odd, evenShifted, oddShifted)
    }

    @inline(__always)
    private static func transformEightTiles(_ rows: TileRows, x0: Int, into out: UnsafeMutablePointer<Float>, plane: Int) {
        let d0 = tileColumns(rows.0, x0: x0), d1 = tileColumns(rows.1, x0: x0)
        let d2 = tileColumns(rows.2, x0: x0), d3 = tileColumns(rows.3, x0: x0)
        // Bᵀ·d: combinations of rows, column by column.
        @inline(__always) func combine(_ f: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>)
            -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
            (f(d0.0, d1.0, d2.0, d3.0), f(d0.1, d1.1, d2.1, d3.1), f(d0.2, d1.2, d2.2, d3.2), f(d0.3, d1.3, d2.3, d3.3))
        }
        let t0 = combine { a, _, c, _ in a - c }, t1 = combine { _, b, c, _ in b + c }
        let t2 = combine { _, b, c, _ in c - b }, t3 = combine { _, b, _, d in b - d }
        // ·B within each row.
        @inline(__always) func store(_ r: Int, _ t: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)) {
            store8(t.0 - t.2, out + (4 * r + 0) * plane)
            store8(t.1 + t.2, out + (4 * r + 1) * plane)
            store8(t.2 - t.1, out + (4 * r + 2) * plane)
            store8(t.1 - t.3, out + (4 * r + 3) * plane)
        }
        store(0, t0); store(1, t1); store(2, t2); store(3, t3)
    }

    @inline(__always)
    private static func transformOneTile(_ rows: TileRows, _ g: Conv2D.Geometry, x0: Int,
                                         into out: UnsafeMutablePointer<Float>, plane: Int) {
        @inline(__always) func load(_ row: UnsafePointer<Float>?) -> SIMD4<Float> {
            guard let row else { return .zero }
            var v = SIMD4<Float>.zero
            for c in 0..<4 where x0 + c >= 0 && x0 + c < g.inWidth { v[c] = row[x0 + c] }
            return v
        }
        let d0 = load(rows.0), d1 = load(rows.1), d2 = load(rows.2), d3 = load(rows.3)
        @inline(__always) func store(_ r: Int, _ t: SIMD4<Float>) {
            out[(4 * r + 0) * plane] = t[0] - t[2]
            out[(4 * r + 1) * plane] = t[1] + t[2]
            out[(4 * r + 2) * plane] = t[2] - t[1]
            out[(4 * r + 3) * plane] = t[1] - t[3]
        }
        store(0, d0 - d2); store(1, d1 + d2); store(2, d2 - d1); store(3, d1 - d3)
    }

    /// Y = Aᵀ M A + bias (+ residual, at the same place in the output) for each tile, written where it
    /// lies in the output (cut at odd edges). Eight tiles at a time in vectors where all their outputs
    /// lie inside the image.
    static func transformOutput(_ m: UnsafePointer<Float>, _ g: Conv2D.Geometry, firstTileRow: Int, tileRows: Int, tilesX: Int,
                                columns: Int, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, into result: UnsafeMutablePointer<Float>) {
        let tiles = tileRows * tilesX, plane = g.outChannels * columns
        ThreadPool.shared.parallelFor(g.outChannels, grain: max(1, 2048 / max(tiles, 1))) { range in
            for co in range {
                let channel = result + co * g.outPlane
                let skip = residual.map { $0 + co * g.outPlane }
                let b = bias?[co] ?? 0
                for ty in 0..<tileRows {
                    let oy = 2 * (firstTileRow + ty)
                    let p = m + co * columns + ty * tilesX
                    var tx = 0
                    while tx + 8 <= tilesX && 2 * tx + 16 <= g.outWidth && oy + 2 <= g.outHeight {
                        @inline(__always) func at(_ xi: Int) -> SIMD8<Float> { load8(p + xi * plane + tx) }
                        // Aᵀ·M: rows of M combined, column by column; then ·A within each row.
                        @inline(__always) func rowPair(_ c: Int) -> (SIMD8<Float>, SIMD8<Float>) {
                            let (m0, m1, m2, m3) = (at(c), at(4 + c), at(8 + c), at(12 + c))
                            return (m0 + m1 + m2, m1 - m2 - m3)
                        }
                        let c0 = rowPair(0), c1 = rowPair(1), c2 = rowPair(2), c3 = rowPair(3)
                        let bias8 = SIMD8<Float>(repeating: b)
                        @inline(__always) func store(_ r: Int, _ t0: SIMD8<Float>, _ t1: SIMD8<Float>, _ t2: SIMD8<Float>, _ t3: SIMD8<Float>) {
                            let left = (t0 + t1 + t2) + bias8, right = (t1 - t2 - t3) + bias8
                            let offset = (oy + r) * g.outWidth + 2 * tx, out = channel + offset
                            var first = SIMD8(left[0], right[0], left[1], right[1], left[2], right[2], left[3], right[3])
                            var second = SIMD8(left[4], right[4], left[5], right[5], left[6], right[6], left[7], right[7])
                            if let skip {
                                first += load8(skip + offset)
                                second += load8(skip + offset + 8)
                            }
                            store8(first, out)
                            store8(second, out + 8)
                        }
                        store(0, c0.0, c1.0, c2.0, c3.0)
                        store(1, c0.1, c1.1, c2.1, c3.1)
                        tx += 8
                    }
                    while tx < tilesX {
                        let q = p + tx
                        @inline(__always) func row(_ r: Int) -> SIMD4<Float> {
                            SIMD4(q[(4 * r) * plane], q[(4 * r + 1) * plane], q[(4 * r + 2) * plane], q[(4 * r + 3) * plane])
                        }
                        let (m0, m1, m2, m3) = (row(0), row(1), row(2), row(3))
                        let top = m0 + m1 + m2, bottom = m1 - m2 - m3
                        let ox = 2 * tx
                        @inline(__always) func store(_ r: Int, _ t: SIMD4<Float>) {
                            guard oy + r < g.outHeight else { return }
                            let offset = (oy + r) * g.outWidth + ox, out = channel + offset
                            out[0] = (t[0] + t[1] + t[2]) + b + (skip?[offset] ?? 0)
                            if ox + 1 < g.outWidth { out[1] = (t[1] - t[2] - t[3]) + b + (skip?[offset + 1] ?? 0) }
                        }
                        store(0, top); store(1, bottom)
                        tx += 1
                    }
                }
            }
        }
    }
}

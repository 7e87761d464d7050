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
// The three transforms are C (CKernels/Winograd4x4Transforms.c), for the shuffles Swift's SIMD types
// lack: the input and output transforms work on eight tiles of a row at once, one per vector lane, and
// take the tiles' interleaved columns apart (and put them back) with AVX2 shuffles; edge tiles, cut by
// the image's border, go through the same arithmetic with the lanes outside the image read as zeros.
// Tiles are processed in blocks of whole tile rows (no whole-image transform), and every output element
// is computed by the same arithmetic whatever the thread count.
import CKernels
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
    /// Eight filters of a row of U at a time, one per lane (in C: their taps loaded whole and
    /// transposed), so that U is written in runs of eight.
    static func transformFilters(_ weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int, adjoint: Bool = false,
                                 into u: UnsafeMutablePointer<Float>) {
        let plane = outChannels * inChannels
        // U's rows and columns: (co, ci), or (ci, co) for the adjoint; where filter (r, c) lies.
        let rows = adjoint ? inChannels : outChannels, columns = adjoint ? outChannels : inChannels
        let rowStride = adjoint ? 9 : 9 * inChannels, columnStride = adjoint ? 9 * inChannels : 9
        ThreadPool.shared.parallelFor(rows, grain: max(1, 2048 / max(columns, 1))) { range in
            for r in range {
                for c in stride(from: 0, to: columns, by: 8) {
                    dbr_winograd4x4_filters(weight + r * rowStride + c * columnStride, columnStride, min(8, columns - c),
                                            adjoint ? 1 : 0, plane, u + r * columns + c)
                }
            }
        }
    }

    /// V_ξ[ci, t] = (Bᵀ d B)_ξ for the 6×6 input tile d of tile t (zero outside the image), [36, Ci, tiles]:
    /// channel by channel in C (CKernels/Winograd4x4Transforms.c), which takes the tiles' interleaved
    /// columns apart with shuffles.
    static func transformInput(_ image: UnsafePointer<Float>, _ g: Conv2D.Geometry, firstTileRow: Int, tileRows: Int,
                               tilesX: Int, columns: Int, into v: UnsafeMutablePointer<Float>) {
        let tiles = tileRows * tilesX, plane = g.inChannels * columns
        ThreadPool.shared.parallelFor(g.inChannels, grain: max(1, 1024 / max(tiles, 1))) { range in
            for ci in range {
                dbr_winograd4x4_input(image + ci * g.inPlane, g.inHeight, g.inWidth, firstTileRow, tileRows, tilesX, plane,
                                      v + ci * columns)
            }
        }
    }

    /// Y = Aᵀ M A + bias (+ residual at the same place) for each tile, written where it lies in the
    /// output (cut at the image's edges); channel by channel in C, like the input transform.
    static func transformOutput(_ m: UnsafePointer<Float>, _ g: Conv2D.Geometry, firstTileRow: Int, tileRows: Int, tilesX: Int,
                                columns: Int, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, into result: UnsafeMutablePointer<Float>) {
        let tiles = tileRows * tilesX, plane = g.outChannels * columns
        ThreadPool.shared.parallelFor(g.outChannels, grain: max(1, 1024 / max(tiles, 1))) { range in
            for co in range {
                dbr_winograd4x4_output(m + co * columns, g.outHeight, g.outWidth, firstTileRow, tileRows, tilesX, plane,
                                       bias?[co] ?? 0, residual.map { $0 + co * g.outPlane }, result + co * g.outPlane)
            }
        }
    }
}

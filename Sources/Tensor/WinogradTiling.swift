// What Winograd F(2×2, 3×3) (WinogradConv) and F(4×4, 3×3) (Winograd4x4Conv) share: everything but
// their transforms. The filters are transformed once per call into U [positions, Co, Ci]; the images
// go through blocks — input transform into V [positions, Ci, columns], one product per tile position
// M_ξ = U_ξ · V_ξ, output transform into the image — so that a block's V and M stay within
// `blockFloats`. The input gradient is the same convolution with the adjoint filters (turned 180°,
// channel axes swapped).
//
// Blocks: when a whole image's V and M fit, a block holds as many whole images as fit, side by side in
// the columns, so that one product per position serves them all. sgemm packs U_ξ on every call, and on
// small planes that packing is most of a call's cost (at 16×16 × 1280 channels an image has 16 tiles,
// U_ξ 1.6 M floats): images in one call pack it once. Larger images go alone, in blocks of tile rows.
// An image's bits must not depend on what shares its products: each image's tiles start at a multiple
// of 16 columns (padded with zero columns), so every tile lands at the same place within sgemm's
// register tiles whatever comes before it — the same bits as alone (a column of C depends only on its
// own column of B and its place in a 16-column group). That is a property of the BLAS kernels, so the
// first product of each shape is checked against each of its images alone (SharedProductVerdicts), and a
// shape where the bits differ goes image by image.
import Foundation

/// The transforms of one Winograd F(m×m, 3×3) algorithm.
protocol WinogradTransforms {
    /// m: the side of the output tile; the input tile's side is m + 2.
    static var outputTile: Int { get }
    /// The algorithm's name in messages, e.g. "F(2×2, 3×3)".
    static var name: String { get }
    /// U for every filter, [positions, Co, Ci]; with `adjoint`, the input gradient's, [positions, Ci, Co].
    static func transformFilters(_ weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int, adjoint: Bool,
                                 into u: UnsafeMutablePointer<Float>)
    /// V for the tiles of rows firstTileRow ..< firstTileRow + tileRows, [positions, Ci, tiles].
    /// `columns` is V's row length (this image's tiles, or more when images share the block).
    static func transformInput(_ image: UnsafePointer<Float>, _ g: Conv2D.Geometry, firstTileRow: Int, tileRows: Int,
                               tilesX: Int, columns: Int, into v: UnsafeMutablePointer<Float>)
    /// Aᵀ M A + bias (+ residual) for those tiles, written into the image.
    static func transformOutput(_ m: UnsafePointer<Float>, _ g: Conv2D.Geometry, firstTileRow: Int, tileRows: Int, tilesX: Int,
                                columns: Int, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, into result: UnsafeMutablePointer<Float>)
}

extension WinogradTransforms {
    /// Floats of V and M together per block (64 MiB): room for two CFG images of SD 1.5's 64×64 × 320
    /// layers side by side, five at 32×32 × 640.
    static var blockFloats: Int { 1 << 24 }

    /// Floats of V and M per block for layer `g`: `blockFloats`, but 4 MiB for layers of at most 128
    /// channels in and out together (TAESD's 64 → 64). Their U is small enough to be packed again for
    /// every block, and blocks of a few tile rows keep V and M in cache instead of streaming a whole
    /// image's through memory (measured, 2 cores, alternated: TAESD decodes in 0.82–0.84× the time at 256
    /// and 512 px, its peak RSS at 256 px halved). Wider layers keep the large blocks, which let sgemm
    /// pack their larger U once for a whole image or batch (the VAE's 128-channel layers gained nothing
    /// from small blocks, its 512-channel ones lost 20 % at 256 px).
    static func blockFloats(for g: Conv2D.Geometry) -> Int { g.inChannels + g.outChannels <= 128 ? 1 << 20 : blockFloats }

    /// Tile positions ξ: one product each.
    static var positions: Int { (outputTile + 2) * (outputTile + 2) }

    /// x [N, Ci, H, W] ∗ weight [Co, Ci, 3, 3] + bias (+ the epilogue's terms) → [N, Co, H, W], in blocks
    /// of at most `blockFloats` floats of V and M.
    static func convolution(_ x: Tensor, weight: Tensor, bias: Tensor?, blockFloats: Int, epilogue: ConvolutionEpilogue) -> Tensor {
        let g = Conv2D.Geometry(input: x.shape, weight: weight.shape, stride: 1, padding: 1)
        precondition(WinogradConv.applies(to: g), "Winograd \(name) needs a 3×3 stride-1 padding-1 convolution, got \(weight.shape)")
        epilogue.validate(g)
        let out = Tensor(uninitialized: [g.batch, g.outChannels, g.outHeight, g.outWidth])
        ScratchBuffers.shared.withBuffer(positions * g.outChannels * g.inChannels) { u in
            transformFilters(weight.pointer, outChannels: g.outChannels, inChannels: g.inChannels, adjoint: false, into: u)
            let imageColumns = columnsPerImage(g)
            let imagesPerBlock = blockFloats / (positions * (g.inChannels + g.outChannels) * imageColumns)
            guard imagesPerBlock >= 1 else {
                for n in 0..<g.batch {
                    epilogue.withChannelTerms(sample: n, bias: bias, outChannels: g.outChannels) { terms in
                        convolve(image: x.pointer + n * g.inChannels * g.inPlane, g, transformedFilters: u, bias: terms,
                                 residual: epilogue.residual(sample: n, g), blockFloats: blockFloats,
                                 into: out.pointer + n * g.outChannels * g.outPlane)
                    }
                }
                return
            }
            convolveWholeImages(x, g, transformedFilters: u, bias: bias, epilogue: epilogue,
                                imagesPerBlock: min(imagesPerBlock, g.batch), into: out)
        }
        return out
    }

    /// Tiles across and down the output.
    static func tileCounts(_ g: Conv2D.Geometry) -> (x: Int, y: Int) {
        ((g.outWidth + outputTile - 1) / outputTile, (g.outHeight + outputTile - 1) / outputTile)
    }

    /// M_ξ = U_ξ · V_ξ for every tile position ξ, V and M `columns` wide.
    static func multiplyAtEveryPosition(_ u: UnsafePointer<Float>, _ v: UnsafePointer<Float>, into m: UnsafeMutablePointer<Float>,
                                        _ g: Conv2D.Geometry, columns: Int) {
        for xi in 0..<positions {
            MatMul.gemm(m: g.outChannels, n: columns, k: g.inChannels,
                        a: u + xi * g.outChannels * g.inChannels, lda: g.inChannels,
                        b: v + xi * g.inChannels * columns, ldb: columns,
                        c: m + xi * g.outChannels * columns, ldc: columns)
        }
    }

    /// Whether products `columns` wide give every image's block the bits it gets alone: decided once
    /// per shape (SharedProductVerdicts) from position 0's product, the same shape as every position's.
    static func sharesProducts(_ u: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ m: UnsafePointer<Float>, _ g: Conv2D.Geometry,
                               columns: Int, imageColumns: Int, tiles: Int) -> Bool {
        let shape = SharedProductVerdicts.Shape(.columnBlocks, rows: g.outChannels, depth: g.inChannels, width: columns, block: imageColumns)
        return SharedProductVerdicts.shared.verdict(for: shape) {
            SharedProductVerdicts.columnBlocksAgree(rows: g.outChannels, depth: g.inChannels, a: u, lda: g.inChannels, b: v, width: columns,
                                                    block: imageColumns, valid: tiles, product: m)
        }
    }

    /// Columns an image takes in a block of whole images: its tiles, rounded up to 16.
    static func columnsPerImage(_ g: Conv2D.Geometry) -> Int {
        let (tilesX, tilesY) = tileCounts(g)
        return (tilesX * tilesY + 15) / 16 * 16
    }

    /// Every image whole, `imagesPerBlock` at a time side by side in V's and M's columns.
    static func convolveWholeImages(_ x: Tensor, _ g: Conv2D.Geometry, transformedFilters u: UnsafePointer<Float>,
                                    bias: Tensor?, epilogue: ConvolutionEpilogue, imagesPerBlock: Int, into out: Tensor) {
        let (tilesX, tilesY) = tileCounts(g)
        let tiles = tilesX * tilesY, imageColumns = columnsPerImage(g)
        ScratchBuffers.shared.withBuffer(positions * g.inChannels * imagesPerBlock * imageColumns) { v in
            ScratchBuffers.shared.withBuffer(positions * g.outChannels * imagesPerBlock * imageColumns) { m in
                var imagesPerBlock = imagesPerBlock, first = 0
                while first < g.batch {
                    let images = min(imagesPerBlock, g.batch - first), columns = images * imageColumns
                    for i in 0..<images {
                        let n = first + i
                        transformInput(x.pointer + n * g.inChannels * g.inPlane, g, firstTileRow: 0, tileRows: tilesY,
                                       tilesX: tilesX, columns: columns, into: v + i * imageColumns)
                        // The padding columns: zeros (their products are never read, but stale values
                        // could be NaN or denormal and slow sgemm).
                        if imageColumns > tiles {
                            for row in 0..<(positions * g.inChannels) {
                                (v + row * columns + i * imageColumns + tiles).update(repeating: 0, count: imageColumns - tiles)
                            }
                        }
                    }
                    multiplyAtEveryPosition(u, v, into: m, g, columns: columns)
                    if images > 1 && !sharesProducts(u, v, m, g, columns: columns, imageColumns: imageColumns, tiles: tiles) {
                        imagesPerBlock = 1
                        continue  // this block again, image by image
                    }
                    for i in 0..<images {
                        let n = first + i
                        epilogue.withChannelTerms(sample: n, bias: bias, outChannels: g.outChannels) { terms in
                            transformOutput(m + i * imageColumns, g, firstTileRow: 0, tileRows: tilesY, tilesX: tilesX, columns: columns,
                                            bias: terms, residual: epilogue.residual(sample: n, g),
                                            into: out.pointer + n * g.outChannels * g.outPlane)
                        }
                    }
                    first += images
                }
            }
        }
    }

    /// The input gradient of a 3×3 stride-1 padding-1 convolution, added into `gradInput`: itself such a
    /// convolution, of the output gradient with the filters turned 180° and their channel axes swapped.
    static func addInputGradient(gradOutput: Tensor, weight: Tensor, gradInput: Tensor, blockFloats: Int) {
        let g = Conv2D.Geometry(input: gradInput.shape, weight: weight.shape, stride: 1, padding: 1)
        precondition(WinogradConv.applies(to: g) && gradOutput.shape == [g.batch, g.outChannels, g.outHeight, g.outWidth],
                     "Winograd input gradient: gradOutput \(gradOutput.shape), weight \(weight.shape), gradInput \(gradInput.shape)")
        // The adjoint convolution maps Co channels to Ci: its geometry has the roles swapped.
        let adjoint = Conv2D.Geometry(input: gradOutput.shape, weight: [g.inChannels, g.outChannels, 3, 3], stride: 1, padding: 1)
        ScratchBuffers.shared.withBuffer(positions * g.outChannels * g.inChannels) { u in
            transformFilters(weight.pointer, outChannels: g.outChannels, inChannels: g.inChannels, adjoint: true, into: u)
            ScratchBuffers.shared.withBuffer(g.inChannels * g.inPlane) { scratch in
                for n in 0..<g.batch {
                    convolve(image: gradOutput.pointer + n * g.outChannels * g.outPlane, adjoint, transformedFilters: u, bias: nil,
                             residual: nil, blockFloats: blockFloats, into: scratch)
                    let dx = gradInput.pointer + n * g.inChannels * g.inPlane
                    for i in 0..<(g.inChannels * g.inPlane) { dx[i] += scratch[i] }
                }
            }
        }
    }

    /// One image: blocks of tile rows through input transform, one product per position, output transform.
    static func convolve(image: UnsafePointer<Float>, _ g: Conv2D.Geometry, transformedFilters u: UnsafePointer<Float>,
                         bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, blockFloats: Int,
                         into result: UnsafeMutablePointer<Float>) {
        let (tilesX, tilesY) = tileCounts(g)
        let rowsPerBlock = max(1, min(tilesY, blockFloats / max(positions * (g.inChannels + g.outChannels) * tilesX, 1)))
        let maxTiles = rowsPerBlock * tilesX
        ScratchBuffers.shared.withBuffer(positions * g.inChannels * maxTiles) { v in
            ScratchBuffers.shared.withBuffer(positions * g.outChannels * maxTiles) { m in
                var firstRow = 0
                while firstRow < tilesY {
                    let rows = min(rowsPerBlock, tilesY - firstRow), tiles = rows * tilesX
                    transformInput(image, g, firstTileRow: firstRow, tileRows: rows, tilesX: tilesX, columns: tiles, into: v)
                    multiplyAtEveryPosition(u, v, into: m, g, columns: tiles)
                    transformOutput(m, g, firstTileRow: firstRow, tileRows: rows, tilesX: tilesX, columns: tiles,
                                    bias: bias, residual: residual, into: result)
                    firstRow += rows
                }
            }
        }
    }
}

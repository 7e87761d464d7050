// im2col convolution of small planes with the images of a batch side by side in one product.
//
// Why: at 8×8 and 4×4 (SD 1.5's 1280-channel levels at 256 px, 4×4 at 512 px) an image's product
// is W [1280, 11 520] · col [11 520, 64 or 16]: narrow, and the sgemm spends about as long packing W's
// 59 MB as multiplying with it, once per image. Two images side by side pack W once for twice the columns
// (measured, `dbbench kernels`, 2 cores: one product of 2 × 64 columns in 0.87× the time of two of 64,
// 2 × 16 columns in 0.73× the time of two of 16).
//
// Bits: each image's columns start on a multiple of 16 and fill whole groups of 16 (zero columns pad
// the rest), so that sgemm computes every one of its columns in the same register tile, over the same
// k order, as when the image is alone — a batch then gives each image the bytes it gets by itself. That
// is a property of the BLAS kernels, not a promise of the BLAS API, so it is checked rather than assumed:
// the first product of each shape is also computed for each of its images alone, and the shape shares
// products only if the bits agree (SharedProductVerdicts); where they do not, images go one by one.
import Foundation

extension Conv2D {
    /// Planes of fewer output positions than this share products across the batch.
    static let sharedProductPlaneLimit = 256

    /// Columns of one image in a shared product: its plane, rounded up to whole groups of 16.
    static func sharedColumnsPerImage(_ g: Geometry) -> Int { (g.outPlane + 15) / 16 * 16 }

    /// How many images share one product (0: this layer is computed image by image): all of the
    /// batch, or as many as fit the column budget, for planes under `sharedProductPlaneLimit`.
    static func imagesSharingProducts(_ g: Geometry, budget: Int) -> Int {
        guard g.outPlane < sharedProductPlaneLimit else { return 0 }
        return min(g.batch, budget / (g.patchSize * sharedColumnsPerImage(g)))
    }

    /// `forward` for layers that share products: groups of `imagesPerProduct` images unfolded side by
    /// side into one column matrix [K, images × columnsPerImage], one sgemm onto their starting values
    /// (bias, offsets, residual), then each image's block copied to its place in `out`.
    static func forwardSharingProducts(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: Geometry, imagesPerProduct: Int,
                                       epilogue: ConvolutionEpilogue, into out: Tensor) {
        let plane = g.outPlane, imageColumns = sharedColumnsPerImage(g)
        let widest = imagesPerProduct * imageColumns
        ScratchBuffers.shared.withBuffer(g.patchSize * widest) { columns in
            ScratchBuffers.shared.withBuffer(g.outChannels * widest) { products in
                var imagesPerProduct = imagesPerProduct, first = 0
                while first < g.batch {
                    let images = min(imagesPerProduct, g.batch - first), width = images * imageColumns
                    for i in 0..<images {
                        let n = first + i, offset = i * imageColumns
                        unfold(g, image: x.pointer + n * g.inChannels * g.inPlane, firstRow: 0, rows: g.outHeight,
                               into: columns + offset, rowStride: width)
                        if imageColumns > plane {
                            for row in 0..<g.patchSize {
                                (columns + row * width + offset + plane).update(repeating: 0, count: imageColumns - plane)
                            }
                        }
                        startingValues(g, sample: n, bias: bias, epilogue: epilogue, into: products + offset, rowStride: width)
                    }
                    MatMul.gemm(m: g.outChannels, n: width, k: g.patchSize, a: weight.pointer, lda: g.patchSize,
                                b: columns, ldb: width, beta: 1, c: products, ldc: width)
                    if images > 1 {
                        let shape = SharedProductVerdicts.Shape(.columnBlocks, rows: g.outChannels, depth: g.patchSize, width: width, block: imageColumns)
                        let shares = SharedProductVerdicts.shared.verdict(for: shape) {
                            SharedProductVerdicts.columnBlocksAgree(rows: g.outChannels, depth: g.patchSize, a: weight.pointer, lda: g.patchSize,
                                                                    b: columns, width: width, block: imageColumns, valid: plane, product: products) { i, alone in
                                startingValues(g, sample: first + i, bias: bias, epilogue: epilogue, into: alone, rowStride: imageColumns)
                            }
                        }
                        if !shares {
                            imagesPerProduct = 1
                            continue  // this group again, image by image
                        }
                    }
                    for i in 0..<images {
                        let result = out.pointer + (first + i) * g.outChannels * plane
                        for c in 0..<g.outChannels {
                            (result + c * plane).update(from: products + c * width + i * imageColumns, count: plane)
                        }
                    }
                    first += images
                }
            }
        }
    }
}

// Small planes share one im2col product across the images of a batch (Conv2DSharedProducts): each image
// must still get exactly the bytes it gets alone, padded planes and the epilogue included, and the
// image-by-image fallback (taken where this machine's sgemm would not give those bytes) must give them too.
import Testing
@testable import Tensor
import TestSupport

@Suite("Conv2D shared products")
struct Conv2DSharedProductsTests {
    /// (kernel, stride, padding, in channels, out channels, height, width): 8×8 and 4×4 as SD's, a 5×7
    /// plane (35 columns, padded to 48), a 1×1 layer and a stride-2 one.
    static let cases: [(Int, Int, Int, Int, Int, Int, Int)] = [
        (3, 1, 1, 64, 48, 8, 8), (3, 1, 1, 40, 32, 4, 4), (3, 1, 1, 24, 40, 5, 7), (1, 1, 0, 96, 64, 8, 8), (3, 2, 1, 32, 48, 8, 8),
    ]

    static func image(_ x: Tensor, _ n: Int) -> Tensor {
        let size = x.count / x.shape[0]
        return Tensor(shape: [1] + x.shape.dropFirst(), values: Array(UnsafeBufferPointer(start: x.pointer + n * size, count: size)))
    }

    @Test("each image of a batch gets the bits it gets alone, with bias, offsets and residual", arguments: 0..<5)
    func imagesAsAlone(index: Int) {
        let (k, stride, padding, ci, co, h, w) = Self.cases[index]
        let batch = 3, seed = UInt64(index * 10)
        let x = uniformTensor([batch, ci, h, w], seed: seed + 1), weight = uniformTensor([co, ci, k, k], seed: seed + 2)
        let bias = uniformTensor([co], seed: seed + 3)
        let g = Conv2D.Geometry(input: x.shape, weight: weight.shape, stride: stride, padding: padding)
        #expect(Conv2D.imagesSharingProducts(g, budget: Conv2D.columnBlockFloats) == batch, "the batch shares one product")
        let plain = Conv2D.forward(x, weight: weight, bias: bias, stride: stride, padding: padding, method: .im2col)
        let offsets = uniformTensor([batch, co], seed: seed + 4), residual = uniformTensor(plain.shape, seed: seed + 5)
        let epilogue = ConvolutionEpilogue(channelOffsets: offsets, residual: residual)
        let fused = Conv2D.forward(x, weight: weight, bias: bias, stride: stride, padding: padding, method: .im2col, epilogue: epilogue)
        for n in 0..<batch {
            let alone = Conv2D.forward(Self.image(x, n), weight: weight, bias: bias, stride: stride, padding: padding, method: .im2col)
            #expect(Self.image(plain, n).scalars == alone.scalars, "image \(n) differs when batched")
            let aloneFused = Conv2D.forward(Self.image(x, n), weight: weight, bias: bias, stride: stride, padding: padding, method: .im2col,
                                            epilogue: ConvolutionEpilogue(channelOffsets: Self.image(offsets, n).reshaped([1, co]),
                                                                          residual: Self.image(residual, n)))
            #expect(Self.image(fused, n).scalars == aloneFused.scalars, "image \(n) with the epilogue differs when batched")
        }
        // Image by image (a column budget too small to share): the same sums in blocks, within rounding.
        let separate = Conv2D.forward(x, weight: weight, bias: bias, stride: stride, padding: padding, columnBudget: 64)
        #expect(difference(separate, plain).relativeToScale < 1e-6, "\(difference(separate, plain))")
        // Against float64 at a few outputs of the last image.
        for (c, oy, ox) in [(0, 0, 0), (co - 1, g.outHeight - 1, g.outWidth - 1), (co / 2, g.outHeight / 2, 0)] {
            var sum = Double(bias[[c]])
            for i in 0..<ci {
                for ky in 0..<k {
                    for kx in 0..<k {
                        let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                        guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                        sum += Double(x[[batch - 1, i, iy, ix]]) * Double(weight[[c, i, ky, kx]])
                    }
                }
            }
            #expect(abs(Double(plain[[batch - 1, c, oy, ox]]) - sum) < 1e-4 * max(1, abs(sum)), "output (\(c), \(oy), \(ox))")
        }
    }

    @Test("where sharing is refused, images go one by one and still get their own bits")
    func refusedShapeFallsBack() {
        // A shape no other test uses, recorded as refused before its first product.
        let x = uniformTensor([2, 36, 6, 6], seed: 51), weight = uniformTensor([20, 36, 3, 3], seed: 52), bias = uniformTensor([20], seed: 53)
        let g = Conv2D.Geometry(input: x.shape, weight: weight.shape, stride: 1, padding: 1)
        let columns = Conv2D.sharedColumnsPerImage(g)
        SharedProductVerdicts.shared.record(.init(.columnBlocks, rows: 20, depth: g.patchSize, width: 2 * columns, block: columns), shares: false)
        let batched = Conv2D.forward(x, weight: weight, bias: bias, stride: 1, padding: 1, method: .im2col)
        for n in 0..<2 {
            let alone = Conv2D.forward(Self.image(x, n), weight: weight, bias: bias, stride: 1, padding: 1, method: .im2col)
            #expect(Self.image(batched, n).scalars == alone.scalars, "image \(n)")
        }
    }
}

// Winograd F(4×4, 3×3) against PyTorch (the linalg fixture's 3×3 case), and on every 3×3 stride-1 layer shape of SD 1.5 (channels as in the model; planes
// whose width and height leave cut edge tiles, and one wide enough for the eight-tile vector paths),
// against a float64 direct convolution at sampled outputs. Bound: 1e-5 of the output's scale (issue 13).
// Also: its input gradient against im2col's, batches against single images to the bit, blocks of tile
// rows, the epilogue, and the C transforms against a tile-by-tile reference to the bit.
import Foundation
import Testing
@testable import Tensor
import TestSupport

@Suite("Winograd F(4×4) convolution")
struct Winograd4x4ConvTests {
    /// Planes: cut tiles in both directions; exact tiles; and 37 columns (one full eight-tile group
    /// inside the image, then edge tiles).
    static let planes = [(9, 11), (8, 12), (6, 37)]

    @Test("matches PyTorch on the linalg fixture's 3×3 stride-1 padding-1 case, output and input gradient")
    func golden() {
        let fixture = try! Fixtures.open("linalg")
        let p = "conv.k3s1p1"
        let y = Winograd4x4Conv.forward(fixture["\(p).x"], weight: fixture["\(p).w"], bias: fixture["\(p).b"])
        #expect(difference(y, fixture["\(p).y"]).relativeToScale < 2e-5, "\(difference(y, fixture["\(p).y"]))")
        let dx = Tensor(zeros: fixture["\(p).x"].shape)
        Winograd4x4Conv.backwardInput(gradOutput: fixture["\(p).gy"], weight: fixture["\(p).w"], gradInput: dx)
        #expect(difference(dx, fixture["\(p).grad_x"]).relativeToScale < 2e-5, "\(difference(dx, fixture["\(p).grad_x"]))")
    }

    @Test("every SD 1.5 3×3 layer shape is within 1e-5 of a float64 direct convolution",
          arguments: Array(WinogradConvTests.layerShapes.indices))
    func layerShape(_ index: Int) {
        let (ci, co) = WinogradConvTests.layerShapes[index]
        let (h, w) = Self.planes[index % Self.planes.count]
        let x = uniformTensor([1, ci, h, w], seed: UInt64(index) * 3 + 1)
        let weight = uniformTensor([co, ci, 3, 3], seed: UInt64(index) * 3 + 2)
        Scale.forwardInPlace(weight, by: 1 / Float(ci * 9).squareRoot())  // activations keep their scale, as in a model
        let bias = uniformTensor([co], seed: UInt64(index) * 3 + 3)
        let winograd = Winograd4x4Conv.forward(x, weight: weight, bias: bias)
        let im2col = Conv2D.forward(x, weight: weight, bias: bias, stride: 1, padding: 1, method: .im2col)
        var worst = 0.0, scale = 0.0
        for (index, exact) in sampledDirectConvolution3x3(x, weight: weight, bias: bias) {
            scale = max(scale, abs(exact))
            worst = max(worst, abs(Double(winograd.pointer[index]) - exact))
        }
        #expect(worst / scale < 1e-5, "\(ci)→\(co): F(4×4) error \(worst / scale) of scale \(scale)")
        #expect(difference(winograd, im2col).relativeToScale < 1e-5, "\(ci)→\(co): \(difference(winograd, im2col))")
    }

    @Test("the input gradient equals im2col's", arguments: [(16, 24, 9, 11), (64, 32, 8, 37)])
    func inputGradient(ci: Int, co: Int, h: Int, w: Int) {
        let x = uniformTensor([2, ci, h, w], seed: 11), weight = uniformTensor([co, ci, 3, 3], seed: 12)
        let dy = uniformTensor([2, co, h, w], seed: 13)
        let expected = Tensor(zeros: x.shape), actual = uniformTensor(x.shape, seed: 14)
        let start = actual.copy()
        Conv2D.backward(gradOutput: dy, input: x, weight: weight, stride: 1, padding: 1, gradInput: expected,
                        gradWeight: nil, gradBias: nil, method: .im2col)
        Winograd4x4Conv.backwardInput(gradOutput: dy, weight: weight, gradInput: actual)
        Add.accumulate(start, into: expected)  // the gradient is added to what was there
        #expect(difference(actual, expected).relativeToScale < 1e-5, "\(difference(actual, expected))")
    }

    @Test("where sharing products is refused (a machine whose sgemm would change a bit), whole images go one by one, same bits")
    func refusedSharingFallsBack() {
        // A shape no other test uses (12×12 planes: 9 tiles, padded to 16 columns), refused before its first product.
        let x = uniformTensor([3, 72, 12, 12], seed: 61), weight = uniformTensor([40, 72, 3, 3], seed: 62), bias = uniformTensor([40], seed: 63)
        let g = Conv2D.Geometry(input: x.shape, weight: weight.shape, stride: 1, padding: 1)
        let columns = Winograd4x4Conv.columnsPerImage(g)
        SharedProductVerdicts.shared.record(.init(.columnBlocks, rows: 40, depth: 72, width: 3 * columns, block: columns), shares: false)
        let batched = Winograd4x4Conv.forward(x, weight: weight, bias: bias)
        let plane = 72 * 144, outPlane = 40 * 144
        for n in 0..<3 {
            let image = Tensor(shape: [1, 72, 12, 12], values: Array(UnsafeBufferPointer(start: x.pointer + n * plane, count: plane)))
            let alone = Winograd4x4Conv.forward(image, weight: weight, bias: bias)
            #expect(Array(UnsafeBufferPointer(start: batched.pointer + n * outPlane, count: outPlane)) == alone.scalars, "image \(n)")
        }
    }

    @Test("at SD's 16×16 and 32×32 planes, images that share products (whole images side by side) equal each image alone to the bit",
          arguments: [(16, 640, 3), (32, 320, 2)])
    func sharedProducts(_ side: Int, _ channels: Int, _ batch: Int) {
        let x = uniformTensor([batch, channels, side, side], seed: 8), weight = uniformTensor([channels, channels, 3, 3], seed: 9)
        let bias = uniformTensor([channels], seed: 10)
        let g = Conv2D.Geometry(input: x.shape, weight: weight.shape, stride: 1, padding: 1)
        #expect(Winograd4x4Conv.blockFloats / (Winograd4x4Conv.positions * 2 * channels * Winograd4x4Conv.columnsPerImage(g)) >= batch,
                "the images share one block")
        let batched = Winograd4x4Conv.forward(x, weight: weight, bias: bias)
        let plane = channels * side * side
        for n in 0..<batch {
            let image = Tensor(shape: [1, channels, side, side], values: Array(UnsafeBufferPointer(start: x.pointer + n * plane, count: plane)))
            let alone = Winograd4x4Conv.forward(image, weight: weight, bias: bias)
            #expect(Array(UnsafeBufferPointer(start: batched.pointer + n * plane, count: plane)) == alone.scalars, "image \(n) differs when batched")
        }
    }

    @Test("batched images equal each image alone to the bit; tile-row blocks and the epilogue change nothing but rounding")
    func batchBlocksEpilogue() {
        let x = uniformTensor([3, 16, 37, 21], seed: 5), weight = uniformTensor([24, 16, 3, 3], seed: 6), bias = uniformTensor([24], seed: 7)
        let batched = Winograd4x4Conv.forward(x, weight: weight, bias: bias)
        for n in 0..<3 {
            let image = Tensor(shape: [1, 16, 37, 21], values: Array(UnsafeBufferPointer(start: x.pointer + n * 16 * 37 * 21, count: 16 * 37 * 21)))
            let alone = Winograd4x4Conv.forward(image, weight: weight, bias: bias)
            #expect(Array(UnsafeBufferPointer(start: batched.pointer + n * 24 * 37 * 21, count: alone.count)) == alone.scalars,
                    "image \(n) differs when batched")
        }
        // Products of another width sum in another order; F(4×4)'s output transform (weights up to 8)
        // magnifies that rounding about 3× more than F(2×2)'s: the method's own bound.
        let oneRow = Winograd4x4Conv.forward(x, weight: weight, bias: bias, blockFloats: 1)
        #expect(difference(oneRow, batched).relativeToScale < 1e-5, "\(difference(oneRow, batched))")
        let offsets = uniformTensor([3, 24], seed: 8), residual = uniformTensor(batched.shape, seed: 9)
        let fused = Winograd4x4Conv.forward(x, weight: weight, bias: bias,
                                            epilogue: ConvolutionEpilogue(channelOffsets: offsets, residual: residual))
        let separate = batched.copy()
        Add.accumulate(offsets, into: separate, broadcast: .perChannel)
        Add.accumulate(residual, into: separate)
        #expect(difference(fused, separate).relativeToScale < 1e-6, "\(difference(fused, separate))")
    }

    /// Planes for the transforms' own test: a lone cut tile; one full group of eight tiles with the left
    /// edge in it; groups inside the image and cut ones at the right; a width whose last group is short.
    static let transformPlanes = [(5, 3), (6, 32), (9, 70), (7, 67), (4, 101)]

    @Test("the input and output transforms hold, to the bit, the values of a tile-by-tile reference", arguments: transformPlanes)
    func transformsMatchTileByTile(_ height: Int, _ width: Int) {
        let channels = 3
        let x = uniformTensor([1, channels, height, width], seed: 11)
        let g = Conv2D.Geometry(input: x.shape, weight: [channels, channels, 3, 3], stride: 1, padding: 1)
        let (tilesX, tilesY) = Winograd4x4Conv.tileCounts(g)
        let tiles = tilesX * tilesY
        var v = [Float](repeating: .nan, count: 36 * channels * tiles)
        v.withUnsafeMutableBufferPointer {
            Winograd4x4Conv.transformInput(x.pointer, g, firstTileRow: 0, tileRows: tilesY, tilesX: tilesX, columns: tiles, into: $0.baseAddress!)
        }
        // The same arithmetic one tile at a time: Bᵀ down each column, then across each row.
        var mismatches = 0
        for c in 0..<channels {
            for ty in 0..<tilesY {
                for tx in 0..<tilesX {
                    func input(_ y: Int, _ x0: Int) -> Float {
                        y >= 0 && y < height && x0 >= 0 && x0 < width ? x.pointer[(c * height + y) * width + x0] : 0
                    }
                    let columns = (0..<6).map { j in Self.applyBT((0..<6).map { r in input(4 * ty - 1 + r, 4 * tx - 1 + j) }) }
                    for i in 0..<6 {
                        let row = Self.applyBT((0..<6).map { j in columns[j][i] })
                        for j in 0..<6 where v[((6 * i + j) * channels + c) * tiles + ty * tilesX + tx] != row[j] { mismatches += 1 }
                    }
                }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(v.count) transformed inputs differ")

        // Output: M = any values; Y = Aᵀ M A + bias, checked against the same arithmetic per tile.
        let m = uniformTensor([36, channels, tiles], seed: 12), bias = uniformTensor([channels], seed: 13)
        var y = [Float](repeating: .nan, count: channels * height * width)
        y.withUnsafeMutableBufferPointer {
            Winograd4x4Conv.transformOutput(m.pointer, g, firstTileRow: 0, tileRows: tilesY, tilesX: tilesX, columns: tiles,
                                            bias: bias.pointer, residual: nil, into: $0.baseAddress!)
        }
        mismatches = 0
        for c in 0..<channels {
            for ty in 0..<tilesY {
                for tx in 0..<tilesX {
                    func at(_ xi: Int) -> Float { m.pointer[(xi * channels + c) * tiles + ty * tilesX + tx] }
                    let columns = (0..<6).map { j in Self.applyAT((0..<6).map { i in at(6 * i + j) }) }
                    for r in 0..<4 where 4 * ty + r < height {
                        let row = Self.applyAT((0..<6).map { j in columns[j][r] })
                        for k in 0..<4 where 4 * tx + k < width && y[(c * height + 4 * ty + r) * width + 4 * tx + k] != row[k] + bias.pointer[c] {
                            mismatches += 1
                        }
                    }
                }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(y.count) outputs differ")
    }

    @Test("the filter transform (and its 180°-turned form for the input gradient) holds, to the bit, the values of a filter-by-filter reference",
          arguments: [false, true])
    func filterTransformMatchesReference(adjoint: Bool) {
        let outChannels = 11, inChannels = 13, plane = outChannels * inChannels
        let weight = uniformTensor([outChannels, inChannels, 3, 3], seed: 14)
        var u = [Float](repeating: .nan, count: 36 * plane)
        u.withUnsafeMutableBufferPointer {
            Winograd4x4Conv.transformFilters(weight.pointer, outChannels: outChannels, inChannels: inChannels, adjoint: adjoint, into: $0.baseAddress!)
        }
        var mismatches = 0
        for co in 0..<outChannels {
            for ci in 0..<inChannels {
                let taps = (0..<9).map { weight.pointer[(co * inChannels + ci) * 9 + (adjoint ? 8 - $0 : $0)] }
                let columns = (0..<3).map { j in Self.applyG(taps[j], taps[3 + j], taps[6 + j]) }
                let position = adjoint ? ci * outChannels + co : co * inChannels + ci
                for i in 0..<6 {
                    let row = Self.applyG(columns[0][i], columns[1][i], columns[2][i])
                    for j in 0..<6 where u[(6 * i + j) * plane + position] != row[j] { mismatches += 1 }
                }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(u.count) transformed filter values differ")
    }

    /// G·(a, b, c), one operation at a time in the transform's order.
    static func applyG(_ a: Float, _ b: Float, _ c: Float) -> [Float] {
        let outer = (a + c) / 6, inner = b / 6, even = (a / 4 + c) / 6, odd = b / 12
        return [a / 4, -(outer + inner), inner - outer, even + odd, even - odd, c]
    }

    /// Bᵀ·x, one operation at a time in the transforms' order (no fused multiply-adds), so that the
    /// results must match to the bit.
    static func applyBT(_ x: [Float]) -> [Float] {
        let a = x[4] - 4 * x[2], b = x[3] - 4 * x[1], c = x[4] - x[2], d = 2 * (x[3] - x[1])
        return [4 * x[0] - 5 * x[2] + x[4], a + b, a - b, c + d, c - d, 4 * x[1] - 5 * x[3] + x[5]]
    }

    /// Aᵀ·m, likewise.
    static func applyAT(_ m: [Float]) -> [Float] {
        let s = m[1] + m[2], d = m[1] - m[2], s2 = m[3] + m[4], d2 = m[3] - m[4]
        return [m[0] + s + s2, d + 2 * d2, s + 4 * s2, d + 8 * d2 + m[5]]
    }
}

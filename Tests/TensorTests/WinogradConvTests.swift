// Winograd F(2×2, 3×3) against PyTorch (the linalg fixture's 3×3 stride-1 padding-1 case) and, on
// every 3×3 stride-1 layer shape of SD 1.5's UNet and VAE (channels as in the model; small, partly odd
// planes so that edge tiles are cut), against a float64 direct convolution at sampled outputs.
// Bound: 1e-5 of the output's scale (issue 13), and never more than 4× the error of our im2col path
// on the same layer (fp32 sums over up to 2560·9 products err by ~1e-6 of scale).
import Foundation
import Testing
@testable import Tensor
import TestSupport

@Suite("Winograd convolution")
struct WinogradConvTests {
    /// (in, out) channels of every 3×3 stride-1 convolution in SD 1.5 (UNet resnets, conv_in/out,
    /// upsamplers; VAE encoder and decoder).
    static let layerShapes: [(Int, Int)] = [
        (4, 320), (320, 320), (320, 640), (640, 640), (640, 1280), (1280, 1280), (2560, 1280), (1920, 1280),
        (1920, 640), (1280, 640), (960, 640), (960, 320), (640, 320), (320, 4),
        (3, 128), (128, 128), (128, 256), (256, 256), (256, 512), (512, 512), (512, 8), (4, 512), (512, 256), (256, 128), (128, 3),
    ]

    @Test("matches PyTorch on the linalg fixture's 3×3 stride-1 padding-1 case")
    func golden() {
        let fixture = try! Fixtures.open("linalg")
        let p = "conv.k3s1p1"
        let y = WinogradConv.forward(fixture["\(p).x"], weight: fixture["\(p).w"], bias: fixture["\(p).b"])
        let d = difference(y, fixture["\(p).y"])
        #expect(d.relativeToScale < 2e-5, "\(d)")
    }

    @Test("the input gradient matches PyTorch's on the fixture and im2col's on SD 1.5 shapes")
    func inputGradient() {
        let fixture = try! Fixtures.open("linalg")
        let p = "conv.k3s1p1"
        let x = fixture["\(p).x"], dx = Tensor(zeros: x.shape)
        WinogradConv.backwardInput(gradOutput: fixture["\(p).gy"], weight: fixture["\(p).w"], gradInput: dx)
        #expect(difference(dx, fixture["\(p).grad_x"]).relativeToScale < 2e-5, "\(difference(dx, fixture["\(p).grad_x"]))")
        for (index, (ci, co)) in [(320, 640), (1280, 640), (128, 3), (4, 320)].enumerated() {
            let input = uniformTensor([2, ci, 9, 12], seed: UInt64(100 + index)), weight = uniformTensor([co, ci, 3, 3], seed: UInt64(200 + index))
            let gradOutput = uniformTensor([2, co, 9, 12], seed: UInt64(300 + index))
            let winograd = uniformTensor([2, ci, 9, 12], seed: 7), im2col = winograd.copy()  // both add onto the same start
            WinogradConv.backwardInput(gradOutput: gradOutput, weight: weight, gradInput: winograd)
            Conv2D.backward(gradOutput: gradOutput, input: input, weight: weight, stride: 1, padding: 1,
                            gradInput: im2col, gradWeight: nil, gradBias: nil, method: .im2col)
            #expect(difference(winograd, im2col).relativeToScale < 1e-5, "\(ci)→\(co): \(difference(winograd, im2col))")
        }
    }

    @Test("Conv2D picks Winograd F(4×4) exactly where it measured faster, and computes the input gradient with it")
    func selection() {
        for g in [Conv2D.Geometry(input: [1, 320, 64, 64], weight: [320, 320, 3, 3], stride: 1, padding: 1),
                  Conv2D.Geometry(input: [2, 1280, 16, 16], weight: [1280, 1280, 3, 3], stride: 1, padding: 1),
                  Conv2D.Geometry(input: [2, 320, 64, 64], weight: [4, 320, 3, 3], stride: 1, padding: 1),
                  Conv2D.Geometry(input: [1, 64, 512, 512], weight: [3, 64, 3, 3], stride: 1, padding: 1)] {
            #expect(Conv2D.fastestMethod(for: g) == .winograd4x4, "\(g)")
        }
        for g in [Conv2D.Geometry(input: [1, 1280, 8, 8], weight: [1280, 1280, 3, 3], stride: 1, padding: 1),
                  Conv2D.Geometry(input: [1, 320, 64, 64], weight: [320, 320, 3, 3], stride: 2, padding: 1),
                  Conv2D.Geometry(input: [1, 4, 64, 64], weight: [320, 4, 3, 3], stride: 1, padding: 1),
                  Conv2D.Geometry(input: [1, 320, 64, 64], weight: [320, 320, 1, 1], stride: 1, padding: 0)] {
            #expect(Conv2D.fastestMethod(for: g) == .im2col, "\(g)")
        }
        let x = uniformTensor([1, 64, 32, 32], seed: 1), w = uniformTensor([64, 64, 3, 3], seed: 2)
        #expect(Conv2D.forward(x, weight: w, bias: nil, stride: 1, padding: 1).scalars == Winograd4x4Conv.forward(x, weight: w, bias: nil).scalars)
        let dy = uniformTensor([1, 64, 32, 32], seed: 3)
        let automatic = Tensor(zeros: x.shape), winograd = Tensor(zeros: x.shape)
        Conv2D.backward(gradOutput: dy, input: x, weight: w, stride: 1, padding: 1, gradInput: automatic, gradWeight: nil, gradBias: nil)
        Winograd4x4Conv.backwardInput(gradOutput: dy, weight: w, gradInput: winograd)
        #expect(automatic.scalars == winograd.scalars)
    }

    @Test("every SD 1.5 3×3 layer shape is within 1e-5 of a float64 direct convolution", arguments: Array(layerShapes.indices))
    func layerShape(_ index: Int) {
        let (ci, co) = Self.layerShapes[index]
        // An odd plane (cut edge tiles) for half the shapes, an even one for the others.
        let (h, w) = index % 2 == 0 ? (9, 11) : (8, 12)
        let x = uniformTensor([1, ci, h, w], seed: UInt64(index) * 3 + 1)
        let weight = uniformTensor([co, ci, 3, 3], seed: UInt64(index) * 3 + 2)
        Scale.forwardInPlace(weight, by: 1 / Float(ci * 9).squareRoot())  // activations keep their scale, as in a model
        let bias = uniformTensor([co], seed: UInt64(index) * 3 + 3)
        let winograd = WinogradConv.forward(x, weight: weight, bias: bias)
        let im2col = Conv2D.forward(x, weight: weight, bias: bias, stride: 1, padding: 1, method: .im2col)
        #expect(winograd.shape == im2col.shape)
        // Sampled outputs against float64, corners and edges included.
        var worstWinograd = 0.0, worstIm2col = 0.0, scale = 0.0
        for (index, exact) in sampledDirectConvolution3x3(x, weight: weight, bias: bias) {
            scale = max(scale, abs(exact))
            worstWinograd = max(worstWinograd, abs(Double(winograd.pointer[index]) - exact))
            worstIm2col = max(worstIm2col, abs(Double(im2col.pointer[index]) - exact))
        }
        #expect(worstWinograd / scale < 1e-5, "\(ci)→\(co): Winograd error \(worstWinograd / scale) of scale \(scale)")
        #expect(worstWinograd <= 4 * max(worstIm2col, 1e-7 * scale), "\(ci)→\(co): Winograd \(worstWinograd) vs im2col \(worstIm2col)")
        // The whole output agrees with im2col to the same bound.
        #expect(difference(winograd, im2col).relativeToScale < 1e-5, "\(ci)→\(co): \(difference(winograd, im2col))")
    }

    @Test("batched images equal each image alone to the bit, and blocks of tile rows change nothing but rounding")
    func batchAndBlocks() {
        let x = uniformTensor([3, 16, 37, 21], seed: 5), weight = uniformTensor([24, 16, 3, 3], seed: 6), bias = uniformTensor([24], seed: 7)
        let batched = WinogradConv.forward(x, weight: weight, bias: bias)
        for n in 0..<3 {
            let alone = WinogradConv.forward(Tensor(shape: [1, 16, 37, 21], values: Array(UnsafeBufferPointer(start: x.pointer + n * 16 * 37 * 21, count: 16 * 37 * 21))), weight: weight, bias: bias)
            let row = Array(UnsafeBufferPointer(start: batched.pointer + n * 24 * 37 * 21, count: alone.count))
            #expect(row == alone.scalars, "image \(n) differs when batched")
        }
        // A block of one tile row at a time gives the same result as the default blocks, up to the
        // summation order of products of another width (blocks are a function of the image's size, so
        // a render is still the same bytes at any load).
        let oneRow = WinogradConv.forward(x, weight: weight, bias: bias, blockFloats: 1)
        #expect(difference(oneRow, batched).relativeToScale < 1e-6, "\(difference(oneRow, batched))")
    }
}

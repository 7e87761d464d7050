// ConvolutionEpilogue: a convolution that adds per-sample channel offsets and a residual as it writes its
// output must equal the convolution followed by the two adds (Add.accumulate), by both methods (im2col
// with its column blocks, Winograd with its tile blocks and cut edge tiles), for every sample of a batch.
// The sums are the same values in another order, so the bound is rounding: 1e-6 of the output's scale.
import Foundation
import Testing
@testable import Tensor
import TestSupport

@Suite("Convolution epilogue")
struct ConvolutionEpilogueTests {
    /// conv, then + offsets per (sample, channel), then + residual: the passes the epilogue replaces.
    private func separatePasses(_ conv: Tensor, offsets: Tensor?, residual: Tensor?) -> Tensor {
        if let offsets { Add.accumulate(offsets, into: conv, broadcast: .perChannel) }
        if let residual { Add.accumulate(residual, into: conv) }
        return conv
    }

    /// (kernel, stride, padding, channels in, out, height, width) — pointwise, strided, and 3×3 cases.
    static let im2colCases: [(Int, Int, Int, Int, Int, Int, Int)] = [
        (1, 1, 0, 12, 20, 7, 9), (3, 2, 1, 8, 16, 11, 10), (3, 1, 1, 6, 10, 9, 13), (5, 1, 2, 3, 7, 8, 8),
    ]

    @Test("im2col: offsets and residual as sgemm's starting accumulator", arguments: 0..<4, [false, true])
    func im2col(index: Int, withBias: Bool) {
        let (k, stride, padding, ci, co, h, w) = Self.im2colCases[index]
        let seed = UInt64(index * 10)
        let x = uniformTensor([2, ci, h, w], seed: seed + 1)
        let weight = uniformTensor([co, ci, k, k], seed: seed + 2)
        let bias = withBias ? uniformTensor([co], seed: seed + 3) : nil
        let reference = Conv2D.forward(x, weight: weight, bias: bias, stride: stride, padding: padding, method: .im2col)
        let offsets = uniformTensor([2, co], seed: seed + 4)
        let residual = uniformTensor(reference.shape, seed: seed + 5)
        for epilogue in [ConvolutionEpilogue(channelOffsets: offsets), ConvolutionEpilogue(residual: residual),
                         ConvolutionEpilogue(channelOffsets: offsets, residual: residual)] {
            let expected = separatePasses(reference.copy(), offsets: epilogue.channelOffsets, residual: epilogue.residual)
            let fused = Conv2D.forward(x, weight: weight, bias: bias, stride: stride, padding: padding, method: .im2col, epilogue: epilogue)
            // A small column budget as well: every block must start from its own rows' terms.
            let blocked = Conv2D.forward(x, weight: weight, bias: bias, stride: stride, padding: padding, columnBudget: 64, epilogue: epilogue)
            #expect(difference(fused, expected).relativeToScale < 1e-6, "\(difference(fused, expected))")
            #expect(difference(blocked, expected).relativeToScale < 1e-6, "\(difference(blocked, expected))")
        }
    }

    @Test("Winograd: offsets and residual in the output transform, cut edge tiles included", arguments: [(9, 11), (8, 24), (5, 17)])
    func winograd(height: Int, width: Int) {
        let (ci, co) = (16, 24)
        let x = uniformTensor([2, ci, height, width], seed: 1)
        let weight = uniformTensor([co, ci, 3, 3], seed: 2)
        let bias = uniformTensor([co], seed: 3)
        let reference = WinogradConv.forward(x, weight: weight, bias: bias)
        let offsets = uniformTensor([2, co], seed: 4)
        let residual = uniformTensor(reference.shape, seed: 5)
        for epilogue in [ConvolutionEpilogue(channelOffsets: offsets), ConvolutionEpilogue(residual: residual),
                         ConvolutionEpilogue(channelOffsets: offsets, residual: residual)] {
            let expected = separatePasses(reference.copy(), offsets: epilogue.channelOffsets, residual: epilogue.residual)
            for blockFloats in [WinogradConv.blockFloats, 1] {
                let fused = WinogradConv.convolution(x, weight: weight, bias: bias, blockFloats: blockFloats, epilogue: epilogue)
                #expect(difference(fused, expected).relativeToScale < 1e-6, "blockFloats \(blockFloats): \(difference(fused, expected))")
            }
        }
        // Without a bias the offsets alone are the channel terms.
        let plain = WinogradConv.forward(x, weight: weight, bias: nil, epilogue: ConvolutionEpilogue(channelOffsets: offsets))
        let expected = separatePasses(WinogradConv.forward(x, weight: weight, bias: nil), offsets: offsets, residual: nil)
        #expect(difference(plain, expected).relativeToScale < 1e-6)
    }

    @Test("No epilogue: the same bits as before")
    func noEpilogue() {
        let x = uniformTensor([2, 8, 10, 12], seed: 7), weight = uniformTensor([12, 8, 3, 3], seed: 8), bias = uniformTensor([12], seed: 9)
        let zero = Tensor(zeros: [2, 12, 10, 12])
        // A zero residual adds exact zeros: the bits cannot move.
        #expect(Conv2D.forward(x, weight: weight, bias: bias, stride: 1, padding: 1, method: .im2col).scalars
                == Conv2D.forward(x, weight: weight, bias: bias, stride: 1, padding: 1, method: .im2col,
                                  epilogue: ConvolutionEpilogue(residual: zero)).scalars)
        #expect(WinogradConv.forward(x, weight: weight, bias: bias).scalars
                == WinogradConv.forward(x, weight: weight, bias: bias, epilogue: ConvolutionEpilogue(residual: zero)).scalars)
    }
}

// What a convolution adds to its product as it writes the output, instead of in passes of its own over
// the output afterwards: a per-sample channel offset (a ResNet block's time embedding, added after its
// first convolution) and a residual of the output's shape (the block's skip connection, added after its
// second). im2col starts sgemm's accumulator from bias + offset + residual; Winograd adds them in its
// output transform. SD 1.5's UNet has 22 ResNet blocks and 16 transformers: 60 such passes a step, over
// tensors of up to 10 MB at 512 px (batch 2).
//
// The sums are the same values in another order: (conv + bias) + offset becomes conv + (bias + offset),
// and the residual is added before sgemm's accumulation rather than after, so results differ from the
// separate passes by rounding only.
import Foundation

public struct ConvolutionEpilogue: Sendable {
    /// [N, Co]: added to every position of channel c of sample n, like the bias.
    public var channelOffsets: Tensor?
    /// [N, Co, Ho, Wo]: added to the output element by element.
    public var residual: Tensor?

    public init(channelOffsets: Tensor? = nil, residual: Tensor? = nil) {
        self.channelOffsets = channelOffsets
        self.residual = residual
    }

    public static let none = ConvolutionEpilogue()

    /// Checks the shapes against the convolution's geometry.
    func validate(_ g: Conv2D.Geometry) {
        if let channelOffsets {
            precondition(channelOffsets.shape == [g.batch, g.outChannels],
                         "conv2d: channel offsets \(channelOffsets.shape) for [\(g.batch), \(g.outChannels)]")
        }
        if let residual {
            precondition(residual.shape == [g.batch, g.outChannels, g.outHeight, g.outWidth],
                         "conv2d: residual \(residual.shape) for output [\(g.batch), \(g.outChannels), \(g.outHeight), \(g.outWidth)]")
        }
    }

    /// Calls `body` with sample n's per-channel additive term — bias + offsets[n] — or nil when there is none.
    func withChannelTerms<R>(sample n: Int, bias: Tensor?, outChannels: Int, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let channelOffsets else { return body(bias.map { UnsafePointer($0.pointer) }) }
        let offsets = channelOffsets.pointer + n * outChannels
        guard let bias else { return body(offsets) }
        let terms = (0..<outChannels).map { bias.pointer[$0] + offsets[$0] }
        return terms.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    /// Sample n's residual, or nil.
    func residual(sample n: Int, _ g: Conv2D.Geometry) -> UnsafePointer<Float>? {
        residual.map { UnsafePointer($0.pointer + n * g.outChannels * g.outPlane) }
    }
}

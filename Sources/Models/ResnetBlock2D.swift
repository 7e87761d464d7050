// diffusers' ResnetBlock2D (SD 1.x: time_embedding_norm "default", output_scale_factor 1):
//   h = conv1(silu(norm1(x))) [+ time_emb_proj(silu(temb)) per channel]
//   out = shortcut(x) + conv2(silu(norm2(h)))
// The VAE uses the same block without the time embedding.
import Tensor
import Weights

/// A residual block of two 3×3 convolutions.
public struct ResnetBlock2D: Sendable {
    public let norm1: GroupNormLayer
    public let conv1: Conv2dLayer
    public let timeEmbeddingProjection: LinearLayer?
    public let norm2: GroupNormLayer
    public let conv2: Conv2dLayer
    /// 1×1 convolution when the channel count changes.
    public let convShortcut: Conv2dLayer?

    /// - Parameter timeEmbeddingChannels: width of the time embedding; nil for the VAE's blocks.
    public init(_ source: ParameterSource, _ prefix: String, in inChannels: Int, out outChannels: Int,
                timeEmbeddingChannels: Int?, groups: Int, eps: Float) throws {
        norm1 = try GroupNormLayer(source, "\(prefix).norm1", groups: groups, channels: inChannels, eps: eps)
        conv1 = try Conv2dLayer(source, "\(prefix).conv1", in: inChannels, out: outChannels, kernel: 3, padding: 1)
        timeEmbeddingProjection = try timeEmbeddingChannels.map {
            try LinearLayer(source, "\(prefix).time_emb_proj", in: $0, out: outChannels)
        }
        norm2 = try GroupNormLayer(source, "\(prefix).norm2", groups: groups, channels: outChannels, eps: eps)
        conv2 = try Conv2dLayer(source, "\(prefix).conv2", in: outChannels, out: outChannels, kernel: 3, padding: 1)
        convShortcut = inChannels == outChannels ? nil
            : try Conv2dLayer(source, "\(prefix).conv_shortcut", in: inChannels, out: outChannels, kernel: 1)
    }

    /// x [N, Ci, H, W], activatedTimeEmbedding = silu(temb) [N, T] (nil for the VAE) → [N, Co, H, W]
    public func callAsFunction(_ x: Tensor, activatedTimeEmbedding: Tensor?) -> Tensor {
        // The time embedding and the skip connection are added by the convolutions as they write their
        // outputs (ConvolutionEpilogue), not in passes of their own.
        let timeOffsets = activatedTimeEmbedding.flatMap { temb in timeEmbeddingProjection.map { $0(temb) } }  // [N, Co]
        let h = conv1(norm1(x, activation: .silu), epilogue: ConvolutionEpilogue(channelOffsets: timeOffsets))  // [N, Co, H, W]
        let shortcut = convShortcut.map { $0(x) } ?? x
        return conv2(norm2(h, activation: .silu), epilogue: ConvolutionEpilogue(residual: shortcut))
    }
}

extension ResnetBlock2D {
    /// As `callAsFunction`, and the pullback: ∂L/∂output → (∂L/∂x, ∂L/∂activatedTimeEmbedding).
    public func forwardWithPullback(_ x: Tensor, activatedTimeEmbedding: Tensor?,
                                    arena: ParameterArena?) -> (Tensor, (Tensor) -> (x: Tensor, timeEmbedding: Tensor?)) {
        let (n1, norm1Pullback) = norm1.forwardWithPullback(x, activation: .silu, arena: arena)
        // The same epilogues as the forward pass, so that training computes the same bits.
        var projectionPullback: Pullback?
        var timeOffsets: Tensor?  // [N, Co]
        if let projection = timeEmbeddingProjection, let temb = activatedTimeEmbedding {
            (timeOffsets, projectionPullback) = projection.forwardWithPullback(temb, arena: arena)
        }
        let (h1, conv1Pullback) = conv1.forwardWithPullback(n1, arena: arena, epilogue: ConvolutionEpilogue(channelOffsets: timeOffsets))
        let (n2, norm2Pullback) = norm2.forwardWithPullback(h1, activation: .silu, arena: arena)
        var shortcut = x
        var shortcutPullback: Pullback?
        if let convShortcut {
            (shortcut, shortcutPullback) = convShortcut.forwardWithPullback(x, arena: arena)
        }
        let (h2, conv2Pullback) = conv2.forwardWithPullback(n2, arena: arena, epilogue: ConvolutionEpilogue(residual: shortcut))
        return (h2, { dOut in
            let dh1 = norm2Pullback(conv2Pullback(dOut))
            var dTimeEmbedding: Tensor?
            if let projectionPullback, let temb = activatedTimeEmbedding {
                let dt = Tensor(zeros: [temb.shape[0], dh1.shape[1]])  // per (sample, channel) sums
                Add.backward(gradOutput: dh1, broadcast: .perChannel, gradA: nil, gradB: dt)
                dTimeEmbedding = projectionPullback(dt)
            }
            let dx = norm1Pullback(conv1Pullback(dh1))
            Add.accumulate(shortcutPullback.map { $0(dOut) } ?? dOut, into: dx)
            return (dx, dTimeEmbedding)
        })
    }
}

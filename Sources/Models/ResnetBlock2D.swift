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
        var h = conv1(norm1(x, activation: .silu))  // [N, Co, H, W]
        if let projection = timeEmbeddingProjection, let temb = activatedTimeEmbedding {
            Add.accumulate(projection(temb), into: h, broadcast: .perChannel)
        }
        h = conv2(norm2(h, activation: .silu))
        let shortcut = convShortcut.map { $0(x) } ?? x
        Add.accumulate(shortcut, into: h)
        return h
    }
}

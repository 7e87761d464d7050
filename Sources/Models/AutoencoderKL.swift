// diffusers' AutoencoderKL (the SD 1.x VAE): the encoder maps images in [−1, 1] to a diagonal
// Gaussian over latents (mean, log-variance); the decoder maps latents back to images.
// Callers scale latents by `configuration.scalingFactor` (0.18215) as the pipelines do.
import Tensor
import Weights

/// The VAE: encoder (+ quant_conv) and (post_quant_conv +) decoder.
public struct AutoencoderKL: Sendable {
    public let configuration: AutoencoderConfiguration
    public let encoder: VAEEncoder
    public let decoder: VAEDecoder
    public let quantConv: Conv2dLayer
    public let postQuantConv: Conv2dLayer

    public init(configuration c: AutoencoderConfiguration, parameters source: ParameterSource) throws {
        try c.validate()
        configuration = c
        encoder = try VAEEncoder(source, configuration: c)
        decoder = try VAEDecoder(source, configuration: c)
        quantConv = try Conv2dLayer(source, "quant_conv", in: 2 * c.latentChannels, out: 2 * c.latentChannels, kernel: 1)
        postQuantConv = try Conv2dLayer(source, "post_quant_conv", in: c.latentChannels, out: c.latentChannels, kernel: 1)
    }

    /// The latent distribution of images [B, 3, H, W] in [−1, 1]: mean and log-variance
    /// [B, latentChannels, H/8, W/8] each (log-variance clamped to [−30, 20] as diffusers does).
    public func encode(_ images: Tensor) -> (mean: Tensor, logVariance: Tensor) {
        let moments = quantConv(encoder(images))  // [B, 2L, h, w]
        let parts = Split.forward(moments, chunks: 2, axis: 1)
        let logVariance = parts[1]
        for i in 0..<logVariance.count { logVariance.pointer[i] = min(max(logVariance.pointer[i], -30), 20) }
        return (parts[0], logVariance)
    }

    /// Images [B, 3, H, W] (nominally in [−1, 1]) from latents [B, L, H/8, W/8] (already divided by
    /// the scaling factor).
    public func decode(_ latents: Tensor) -> Tensor {
        decoder(postQuantConv(latents))
    }
}

/// The VAE's mid-block attention: one head over all pixels, with GroupNorm first and a residual.
public struct VAEAttention: Sendable {
    public let groupNorm: GroupNormLayer
    public let attention: MultiHeadAttention

    init(_ source: ParameterSource, _ prefix: String, channels: Int, groups: Int) throws {
        groupNorm = try GroupNormLayer(source, "\(prefix).group_norm", groups: groups, channels: channels, eps: 1e-6)
        attention = try MultiHeadAttention(source, prefix, naming: .diffusers, channels: channels, contextChannels: channels,
                                           heads: 1, projectionBias: true)
    }

    /// x [B, C, H, W] → [B, C, H, W]
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let tokens = Transpose.forward(groupNorm(x).reshaped([b, c, h * w]))  // [B, HW, C]
        let out = Transpose.forward(attention(tokens)).reshaped([b, c, h, w])
        Add.accumulate(x, into: out)
        return out
    }
}

/// resnet → attention → resnet, shared by encoder and decoder.
public struct VAEMidBlock: Sendable {
    public let resnet0: ResnetBlock2D
    public let attention: VAEAttention
    public let resnet1: ResnetBlock2D

    init(_ source: ParameterSource, _ prefix: String, channels: Int, groups: Int) throws {
        resnet0 = try ResnetBlock2D(source, "\(prefix).resnets.0", in: channels, out: channels, timeEmbeddingChannels: nil, groups: groups, eps: 1e-6)
        attention = try VAEAttention(source, "\(prefix).attentions.0", channels: channels, groups: groups)
        resnet1 = try ResnetBlock2D(source, "\(prefix).resnets.1", in: channels, out: channels, timeEmbeddingChannels: nil, groups: groups, eps: 1e-6)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        resnet1(attention(resnet0(x, activatedTimeEmbedding: nil)), activatedTimeEmbedding: nil)
    }
}

/// Image → 2·latentChannels moments, before quant_conv.
public struct VAEEncoder: Sendable {
    public let convIn: Conv2dLayer
    public let downBlocks: [(resnets: [ResnetBlock2D], downsampler: Downsample2D?)]
    public let midBlock: VAEMidBlock
    public let convNormOut: GroupNormLayer
    public let convOut: Conv2dLayer

    init(_ source: ParameterSource, configuration c: AutoencoderConfiguration) throws {
        let channels = c.blockOutChannels, n = channels.count, groups = c.normNumGroups
        convIn = try Conv2dLayer(source, "encoder.conv_in", in: c.inChannels, out: channels[0], kernel: 3, padding: 1)
        downBlocks = try (0..<n).map { b in
            let resnets = try (0..<c.layersPerBlock).map { l in
                try ResnetBlock2D(source, "encoder.down_blocks.\(b).resnets.\(l)", in: l == 0 ? channels[max(b - 1, 0)] : channels[b],
                                  out: channels[b], timeEmbeddingChannels: nil, groups: groups, eps: 1e-6)
            }
            let down = b < n - 1 ? try Downsample2D(source, "encoder.down_blocks.\(b).downsamplers.0", channels: channels[b], padding: 0) : nil
            return (resnets, down)
        }
        midBlock = try VAEMidBlock(source, "encoder.mid_block", channels: channels[n - 1], groups: groups)
        convNormOut = try GroupNormLayer(source, "encoder.conv_norm_out", groups: groups, channels: channels[n - 1], eps: 1e-6)
        convOut = try Conv2dLayer(source, "encoder.conv_out", in: channels[n - 1], out: 2 * c.latentChannels, kernel: 3, padding: 1)
    }

    func callAsFunction(_ images: Tensor) -> Tensor {
        var h = convIn(images)
        for block in downBlocks {
            for resnet in block.resnets { h = resnet(h, activatedTimeEmbedding: nil) }
            if let down = block.downsampler { h = down(h) }
        }
        h = midBlock(h)
        return convOut(convNormOut(h, activation: .silu))
    }
}

/// Latents (after post_quant_conv) → image.
public struct VAEDecoder: Sendable {
    public let convIn: Conv2dLayer
    public let midBlock: VAEMidBlock
    public let upBlocks: [(resnets: [ResnetBlock2D], upsampler: Upsample2D?)]
    public let convNormOut: GroupNormLayer
    public let convOut: Conv2dLayer

    init(_ source: ParameterSource, configuration c: AutoencoderConfiguration) throws {
        let reversed = Array(c.blockOutChannels.reversed()), n = reversed.count, groups = c.normNumGroups
        convIn = try Conv2dLayer(source, "decoder.conv_in", in: c.latentChannels, out: reversed[0], kernel: 3, padding: 1)
        midBlock = try VAEMidBlock(source, "decoder.mid_block", channels: reversed[0], groups: groups)
        upBlocks = try (0..<n).map { b in
            let resnets = try (0...c.layersPerBlock).map { l in
                try ResnetBlock2D(source, "decoder.up_blocks.\(b).resnets.\(l)", in: l == 0 ? reversed[max(b - 1, 0)] : reversed[b],
                                  out: reversed[b], timeEmbeddingChannels: nil, groups: groups, eps: 1e-6)
            }
            let up = b < n - 1 ? try Upsample2D(source, "decoder.up_blocks.\(b).upsamplers.0", channels: reversed[b]) : nil
            return (resnets, up)
        }
        convNormOut = try GroupNormLayer(source, "decoder.conv_norm_out", groups: groups, channels: reversed[n - 1], eps: 1e-6)
        convOut = try Conv2dLayer(source, "decoder.conv_out", in: reversed[n - 1], out: c.outChannels, kernel: 3, padding: 1)
    }

    func callAsFunction(_ latents: Tensor) -> Tensor {
        var h = midBlock(convIn(latents))
        for block in upBlocks {
            for resnet in block.resnets { h = resnet(h, activatedTimeEmbedding: nil) }
            if let up = block.upsampler { h = up(h) }
        }
        return convOut(convNormOut(h, activation: .silu))
    }
}

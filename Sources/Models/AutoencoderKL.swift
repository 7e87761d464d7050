// diffusers' AutoencoderKL (the SD 1.x VAE): the encoder maps images in [−1, 1] to a diagonal
// Gaussian over latents (mean, log-variance); the decoder maps latents back to images.
// Callers scale latents by `configuration.scalingFactor` (0.18215) as the pipelines do.
// Each component's `forwardWithPullback` sits beside its forward (see Differentiation/Pullback.swift),
// so that a VAE can be trained: its parameters then come from a ParameterArena.
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
        Self.clampLogVariance(parts[1])
        return (parts[0], parts[1])
    }

    /// Clamps log-variances to [−30, 20] in place (diffusers' DiagonalGaussianDistribution) and
    /// returns the indices that were outside, whose gradient the clamp stops.
    @discardableResult
    static func clampLogVariance(_ logVariance: Tensor) -> [Int] {
        var clamped: [Int] = []
        for i in 0..<logVariance.count {
            let v = logVariance.pointer[i]
            if v < -30 || v > 20 { clamped.append(i) }
            logVariance.pointer[i] = min(max(v, -30), 20)
        }
        return clamped
    }

    /// Images [B, 3, H, W] (nominally in [−1, 1]) from latents [B, L, H/8, W/8] (already divided by
    /// the scaling factor).
    public func decode(_ latents: Tensor) -> Tensor {
        decoder(postQuantConv(latents))
    }
}

extension AutoencoderKL {
    /// The encoder's pullback: (∂L/∂mean, ∂L/∂logVariance) → ∂L/∂images.
    public typealias EncodePullback = (_ gradMean: Tensor, _ gradLogVariance: Tensor) -> Tensor

    /// As `encode`, and the pullback, which adds the gradients of the encoder's and quant_conv's
    /// parameters into `arena`. Pass zeros for a moment the loss does not read.
    public func encodeWithPullback(_ images: Tensor, arena: ParameterArena?)
        -> (mean: Tensor, logVariance: Tensor, pullback: EncodePullback) {
        let (features, encoderPullback) = encoder.forwardWithPullback(images, arena: arena)
        let (moments, quantPullback) = quantConv.forwardWithPullback(features, arena: arena)  // [B, 2L, h, w]
        let parts = Split.forward(moments, chunks: 2, axis: 1)
        let clamped = Self.clampLogVariance(parts[1])
        let momentsShape = moments.shape
        return (parts[0], parts[1], { dMean, dLogVariance in
            var dLogVariance = dLogVariance
            if !clamped.isEmpty {  // torch.clamp passes no gradient where it changed the value
                dLogVariance = dLogVariance.copy()
                for i in clamped { dLogVariance.pointer[i] = 0 }
            }
            let dMoments = Tensor(zeros: momentsShape)
            Split.backward(gradOutputs: [dMean, dLogVariance], axis: 1, gradInput: dMoments)
            return encoderPullback(quantPullback(dMoments))
        })
    }

    /// As `decode`, and the pullback ∂L/∂images → ∂L/∂latents, which adds the gradients of
    /// post_quant_conv's and the decoder's parameters into `arena`.
    public func decodeWithPullback(_ latents: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        let (z, postQuantPullback) = postQuantConv.forwardWithPullback(latents, arena: arena)
        let (images, decoderPullback) = decoder.forwardWithPullback(z, arena: arena)
        return (images, { dImages in postQuantPullback(decoderPullback(dImages)) })
    }
}

/// The pullbacks of a chain of layers, recorded in forward order and run in reverse.
private struct PullbackChain {
    private var steps: [Pullback] = []

    /// Records a layer's pullback and passes its output on.
    mutating func callAsFunction(_ step: (Tensor, Pullback)) -> Tensor {
        steps.append(step.1)
        return step.0
    }

    /// ∂L/∂(last output) → ∂L/∂(first input).
    var pullback: Pullback {
        let steps = steps
        return { gradient in steps.reversed().reduce(gradient) { dy, pullback in pullback(dy) } }
    }
}

private extension ResnetBlock2D {
    /// The VAE's resnets have no time embedding: forward and pullback of x alone.
    func forwardWithPullback(_ x: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        let (y, pullback) = forwardWithPullback(x, activatedTimeEmbedding: nil, arena: arena)
        return (y, { pullback($0).x })
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

    /// As `callAsFunction`, and the pullback: the residual's gradient passes straight through;
    /// the attention's is transposed back from tokens to channels before the GroupNorm's.
    func forwardWithPullback(_ x: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (normalized, normPullback) = groupNorm.forwardWithPullback(x, arena: arena)
        let tokens = Transpose.forward(normalized.reshaped([b, c, h * w]))  // [B, HW, C]
        let (attended, attentionPullback) = attention.forwardWithPullback(tokens, arena: arena)  // [B, HW, C]
        let out = Transpose.forward(attended).reshaped([b, c, h, w])
        Add.accumulate(x, into: out)
        return (out, { dOut in
            let dAttended = Tensor(zeros: [b, h * w, c])
            Transpose.backward(gradOutput: dOut.reshaped([b, c, h * w]), gradInput: dAttended)
            let dNormalized = Tensor(zeros: [b, c, h * w])
            Transpose.backward(gradOutput: attentionPullback(dAttended).x, gradInput: dNormalized)
            let dx = normPullback(dNormalized.reshaped([b, c, h, w]))
            Add.accumulate(dOut, into: dx)
            return dx
        })
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

    /// As `callAsFunction`, and the pullback.
    func forwardWithPullback(_ x: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        var chain = PullbackChain()
        var h = chain(resnet0.forwardWithPullback(x, arena: arena))
        h = chain(attention.forwardWithPullback(h, arena: arena))
        h = chain(resnet1.forwardWithPullback(h, arena: arena))
        return (h, chain.pullback)
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

    /// As `callAsFunction`, and the pullback ∂L/∂moments → ∂L/∂images.
    func forwardWithPullback(_ images: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        var chain = PullbackChain()
        var h = chain(convIn.forwardWithPullback(images, arena: arena))
        for block in downBlocks {
            for resnet in block.resnets { h = chain(resnet.forwardWithPullback(h, arena: arena)) }
            if let down = block.downsampler { h = chain(down.forwardWithPullback(h, arena: arena)) }
        }
        h = chain(midBlock.forwardWithPullback(h, arena: arena))
        h = chain(convNormOut.forwardWithPullback(h, activation: .silu, arena: arena))
        return (chain(convOut.forwardWithPullback(h, arena: arena)), chain.pullback)
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

    /// As `callAsFunction`, and the pullback ∂L/∂image → ∂L/∂latents.
    func forwardWithPullback(_ latents: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        var chain = PullbackChain()
        var h = chain(convIn.forwardWithPullback(latents, arena: arena))
        h = chain(midBlock.forwardWithPullback(h, arena: arena))
        for block in upBlocks {
            for resnet in block.resnets { h = chain(resnet.forwardWithPullback(h, arena: arena)) }
            if let up = block.upsampler { h = chain(up.forwardWithPullback(h, arena: arena)) }
        }
        h = chain(convNormOut.forwardWithPullback(h, activation: .silu, arena: arena))
        return (chain(convOut.forwardWithPullback(h, arena: arena)), chain.pullback)
    }
}

// diffusers' UNet2DConditionModel for SD 1.x: predicts the noise (or v) in latents [B, 4, h, w] at
// per-sample timesteps, conditioned on text embeddings [B, 77, 768]. The module tree mirrors the
// diffusers key names (`down_blocks.1.attentions.0.proj_in`).
import Tensor
import Weights

/// The denoising network.
public struct UNet2DCondition: Sendable {
    public let configuration: UNetConfiguration
    public let timeEmbedding: TimestepEmbedding
    public let convIn: Conv2dLayer
    public let downBlocks: [UNetDownBlock]
    public let midBlock: UNetMidBlock
    public let upBlocks: [UNetUpBlock]
    public let convNormOut: GroupNormLayer
    public let convOut: Conv2dLayer

    /// Builds the network and loads (or, from a `RandomParameterSource`, initialises) its parameters.
    public init(configuration c: UNetConfiguration, parameters source: ParameterSource) throws {
        try c.validate()
        configuration = c
        let channels = c.blockOutChannels, n = channels.count
        let timeChannels = channels[0] * 4
        timeEmbedding = try TimestepEmbedding(source, "time_embedding", channels: channels[0], embeddingChannels: timeChannels,
                                              flipSinToCos: c.flipSinToCos, frequencyShift: c.freqShift)
        convIn = try Conv2dLayer(source, "conv_in", in: c.inChannels, out: channels[0], kernel: 3, padding: 1)
        func settings(_ block: Int) -> UNetBlockSettings {
            UNetBlockSettings(timeEmbeddingChannels: timeChannels, contextChannels: c.crossAttentionDim, groups: c.normNumGroups,
                              eps: c.normEps, transformerLayers: c.transformerLayersPerBlock.value(forBlock: block),
                              linearProjection: c.useLinearProjection)
        }
        downBlocks = try (0..<n).map { b in
            try UNetDownBlock(source, "down_blocks.\(b)", in: b == 0 ? channels[0] : channels[b - 1], out: channels[b],
                              layers: c.layersPerBlock, heads: c.heads(forBlock: b),
                              hasAttention: c.downBlockTypes[b] == "CrossAttnDownBlock2D", downsample: b < n - 1,
                              downsamplePadding: c.downsamplePadding, settings: settings(b))
        }
        midBlock = try UNetMidBlock(source, "mid_block", channels: channels[n - 1], heads: c.heads(forBlock: n - 1),
                                    settings: settings(n - 1))
        let reversed = Array(channels.reversed())
        upBlocks = try (0..<n).map { b in
            // Up block b mirrors down block n−1−b (heads and transformer depth reversed too).
            try UNetUpBlock(source, "up_blocks.\(b)", previous: reversed[max(b - 1, 0)], out: reversed[b],
                            skipIn: reversed[min(b + 1, n - 1)], layers: c.layersPerBlock + 1,
                            heads: c.heads(forBlock: n - 1 - b), hasAttention: c.upBlockTypes[b] == "CrossAttnUpBlock2D",
                            upsample: b < n - 1, settings: settings(n - 1 - b))
        }
        convNormOut = try GroupNormLayer(source, "conv_norm_out", groups: c.normNumGroups, channels: channels[0], eps: c.normEps)
        convOut = try Conv2dLayer(source, "conv_out", in: channels[0], out: c.outChannels, kernel: 3, padding: 1)
    }

    /// latents [B, Cin, h, w], one timestep per sample, context [B, S, crossAttentionDim] → [B, Cout, h, w].
    /// Any latent size works: sides that are not divisible by 2^(blocks − 1) are handled as diffusers
    /// does (stride-2 convolutions round up; the up path resizes to each skip connection's size).
    /// `contextLengths` (one per sample): sample b's text is its first contextLengths[b] context tokens,
    /// the rest padding that its cross-attention skips — a batch of texts of different lengths gives
    /// what each would give alone. Nil: every sample uses all S tokens.
    public func callAsFunction(_ latents: Tensor, timesteps: [Float], context: Tensor, contextLengths: [Int]? = nil) -> Tensor {
        precondition(latents.rank == 4 && latents.shape[1] == configuration.inChannels,
                     "UNet: latents \(latents.shape) do not have \(configuration.inChannels) channels")
        precondition(timesteps.count == latents.shape[0] && context.shape[0] == latents.shape[0],
                     "UNet: batch of \(latents.shape[0]) latents, \(timesteps.count) timesteps, context \(context.shape)")
        // Every resnet adds time_emb_proj(silu(temb)); the SiLU is taken once here.
        let temb = timeEmbedding(timesteps)  // [B, 4·C0]
        SiLU.forwardInPlace(temb)
        var h = convIn(latents)
        var skips: [Tensor] = [h]
        for block in downBlocks {
            let (out, blockSkips) = block(h, temb: temb, context: context, contextLengths: contextLengths)
            h = out
            skips += blockSkips
        }
        h = midBlock(h, temb: temb, context: context, contextLengths: contextLengths)
        for block in upBlocks {
            h = block(h, skips: &skips, temb: temb, context: context, contextLengths: contextLengths)
        }
        return convOut(convNormOut(h, activation: .silu))
    }
}

extension UNet2DCondition {
    /// What the UNet's pullback returns: ∂L/∂latents and ∂L/∂context (the text encoder's output,
    /// which trains the text encoder).
    public typealias InputGradients = (latents: Tensor, context: Tensor)

    /// As `callAsFunction`, and the pullback: ∂L/∂output → ∂L/∂inputs, adding every parameter's
    /// gradient into `arena`. The pullback holds the activations of the whole forward pass — or, with
    /// `checkpointing`, only each resnet's and transformer's inputs, recomputing the rest in backward.
    public func forwardWithPullback(_ latents: Tensor, timesteps: [Float], context: Tensor,
                                    arena: ParameterArena?, checkpointing: Bool = false) -> (Tensor, (Tensor) -> InputGradients) {
        let (rawTemb, timePullback) = timeEmbedding.forwardWithPullback(timesteps, arena: arena)  // [B, 4·C0]
        let temb = SiLU.forward(rawTemb)
        let (first, convInPullback) = convIn.forwardWithPullback(latents, arena: arena)
        var h = first
        var skips: [Tensor] = [first]
        var downPullbacks: [(range: Range<Int>, pullback: UNetDownBlock.BlockPullback)] = []
        for block in downBlocks {
            let (out, blockSkips, pullback) = block.forwardWithPullback(h, temb: temb, context: context, arena: arena, checkpointing: checkpointing)
            downPullbacks.append((skips.count..<skips.count + blockSkips.count, pullback))
            skips += blockSkips
            h = out
        }
        let (middle, midPullback) = midBlock.forwardWithPullback(h, temb: temb, context: context, arena: arena, checkpointing: checkpointing)
        h = middle
        // Up blocks take skips from the end: record which, to route their gradients back.
        var remaining = skips.count
        var upPullbacks: [(indices: [Int], pullback: UNetUpBlock.BlockPullback)] = []
        for block in upBlocks {
            let indices = Array((remaining - block.resnets.count..<remaining).reversed())
            remaining -= block.resnets.count
            let next = remaining > 0 ? (skips[remaining - 1].shape[2], skips[remaining - 1].shape[3]) : nil
            let (out, pullback) = block.forwardWithPullback(h, skips: indices.map { skips[$0] }, upsampleSize: next,
                                                            temb: temb, context: context, arena: arena, checkpointing: checkpointing)
            upPullbacks.append((indices, pullback))
            h = out
        }
        let (normalized, normPullback) = convNormOut.forwardWithPullback(h, activation: .silu, arena: arena)
        let (output, convOutPullback) = convOut.forwardWithPullback(normalized, arena: arena)

        return (output, { dOutput in
            let conditioning = ConditioningGradients(timeEmbeddingShape: temb.shape, contextShape: context.shape)
            let dSkips = skips.map { $0.zerosLike() }
            var dh = normPullback(convOutPullback(dOutput))
            for (indices, pullback) in upPullbacks.reversed() {
                let gradients = pullback(dh, conditioning)
                dh = gradients.x
                for (index, gradient) in zip(indices, gradients.skips) { Add.accumulate(gradient, into: dSkips[index]) }
            }
            dh = midPullback(dh, conditioning)
            for (range, pullback) in downPullbacks.reversed() {
                dh = pullback(dh, Array(dSkips[range]), conditioning)
            }
            Add.accumulate(dSkips[0], into: dh)  // conv_in's output is the first skip
            let dLatents = convInPullback(dh)
            let dRawTemb = rawTemb.zerosLike()
            SiLU.backward(gradOutput: conditioning.timeEmbedding, input: rawTemb, gradInput: dRawTemb)
            timePullback(dRawTemb)
            return (dLatents, conditioning.context)
        })
    }
}

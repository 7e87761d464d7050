// The UNet's down, mid and up blocks (diffusers CrossAttnDownBlock2D / DownBlock2D,
// UNetMidBlock2DCrossAttn, CrossAttnUpBlock2D / UpBlock2D). A block without attentions is the
// plain variant.
import Tensor
import Weights

/// Settings every block shares.
struct UNetBlockSettings {
    let timeEmbeddingChannels: Int
    let contextChannels: Int
    let groups: Int
    let eps: Float
    let transformerLayers: Int
    let linearProjection: Bool
}

/// resnets (each followed by a Transformer2D when the block has attention), then a stride-2 conv.
public struct UNetDownBlock: Sendable {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2D]
    public let downsampler: Downsample2D?

    init(_ source: ParameterSource, _ prefix: String, in inChannels: Int, out outChannels: Int, layers: Int,
         heads: Int, hasAttention: Bool, downsample: Bool, downsamplePadding: Int, settings s: UNetBlockSettings) throws {
        resnets = try (0..<layers).map { l in
            try ResnetBlock2D(source, "\(prefix).resnets.\(l)", in: l == 0 ? inChannels : outChannels, out: outChannels,
                              timeEmbeddingChannels: s.timeEmbeddingChannels, groups: s.groups, eps: s.eps)
        }
        attentions = hasAttention ? try (0..<layers).map { l in
            try Transformer2D(source, "\(prefix).attentions.\(l)", channels: outChannels, contextChannels: s.contextChannels,
                              heads: heads, layers: s.transformerLayers, groups: s.groups, linearProjection: s.linearProjection)
        } : []
        downsampler = downsample ? try Downsample2D(source, "\(prefix).downsamplers.0", channels: outChannels, padding: downsamplePadding) : nil
    }

    /// Returns the block's output and the skip connections it hands to the up path (one per layer,
    /// plus the downsampled output).
    func callAsFunction(_ x: Tensor, temb: Tensor, context: Tensor, contextLengths: [Int]? = nil) -> (Tensor, [Tensor]) {
        var h = x
        var skips: [Tensor] = []
        for (l, resnet) in resnets.enumerated() {
            h = resnet(h, activatedTimeEmbedding: temb)
            if !attentions.isEmpty { h = attentions[l](h, context: context, contextLengths: contextLengths) }
            skips.append(h)
        }
        if let downsampler {
            h = downsampler(h)
            skips.append(h)
        }
        return (h, skips)
    }
}

/// resnet → Transformer2D → resnet at the lowest resolution.
public struct UNetMidBlock: Sendable {
    public let resnet0: ResnetBlock2D
    public let attention: Transformer2D
    public let resnet1: ResnetBlock2D

    init(_ source: ParameterSource, _ prefix: String, channels: Int, heads: Int, settings s: UNetBlockSettings) throws {
        resnet0 = try ResnetBlock2D(source, "\(prefix).resnets.0", in: channels, out: channels,
                                    timeEmbeddingChannels: s.timeEmbeddingChannels, groups: s.groups, eps: s.eps)
        attention = try Transformer2D(source, "\(prefix).attentions.0", channels: channels, contextChannels: s.contextChannels,
                                      heads: heads, layers: s.transformerLayers, groups: s.groups, linearProjection: s.linearProjection)
        resnet1 = try ResnetBlock2D(source, "\(prefix).resnets.1", in: channels, out: channels,
                                    timeEmbeddingChannels: s.timeEmbeddingChannels, groups: s.groups, eps: s.eps)
    }

    func callAsFunction(_ x: Tensor, temb: Tensor, context: Tensor, contextLengths: [Int]? = nil) -> Tensor {
        resnet1(attention(resnet0(x, activatedTimeEmbedding: temb), context: context, contextLengths: contextLengths), activatedTimeEmbedding: temb)
    }
}

/// Each layer concatenates a skip connection onto its input (channel axis), then resnet (+ attention);
/// then nearest-neighbour 2× upsampling + conv.
public struct UNetUpBlock: Sendable {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2D]
    public let upsampler: Upsample2D?

    /// Channel plan as diffusers builds it: layer l takes `previous` (l = 0) or `out` channels plus
    /// the skip's channels, which are `skipIn` for the last layer and `out` otherwise.
    init(_ source: ParameterSource, _ prefix: String, previous: Int, out outChannels: Int, skipIn: Int, layers: Int,
         heads: Int, hasAttention: Bool, upsample: Bool, settings s: UNetBlockSettings) throws {
        resnets = try (0..<layers).map { l in
            let skip = l == layers - 1 ? skipIn : outChannels
            let input = l == 0 ? previous : outChannels
            return try ResnetBlock2D(source, "\(prefix).resnets.\(l)", in: input + skip, out: outChannels,
                                     timeEmbeddingChannels: s.timeEmbeddingChannels, groups: s.groups, eps: s.eps)
        }
        attentions = hasAttention ? try (0..<layers).map { l in
            try Transformer2D(source, "\(prefix).attentions.\(l)", channels: outChannels, contextChannels: s.contextChannels,
                              heads: heads, layers: s.transformerLayers, groups: s.groups, linearProjection: s.linearProjection)
        } : []
        upsampler = upsample ? try Upsample2D(source, "\(prefix).upsamplers.0", channels: outChannels) : nil
    }

    /// Consumes skip connections from the end of `skips`.
    func callAsFunction(_ x: Tensor, skips: inout [Tensor], temb: Tensor, context: Tensor, contextLengths: [Int]? = nil) -> Tensor {
        var h = x
        for (l, resnet) in resnets.enumerated() {
            let skip = skips.removeLast()
            h = resnet(Concat.forward([h, skip], axis: 1), activatedTimeEmbedding: temb)
            if !attentions.isEmpty { h = attentions[l](h, context: context, contextLengths: contextLengths) }
        }
        // diffusers' `upsample_size`: grow to the next skip connection's size, which is not 2× when
        // a latent side was not divisible by 2^(blocks − 1).
        if let upsampler { h = upsampler(h, size: skips.last.map { ($0.shape[2], $0.shape[3]) }) }
        return h
    }
}

// MARK: Pullbacks

extension UNetDownBlock {
    /// The pullback of a down block: given ∂L/∂output and ∂L/∂ each skip it produced, adds the
    /// conditioning gradients and returns ∂L/∂input.
    typealias BlockPullback = (_ gradOutput: Tensor, _ gradSkips: [Tensor], _ conditioning: ConditioningGradients) -> Tensor

    func forwardWithPullback(_ x: Tensor, temb: Tensor, context: Tensor, arena: ParameterArena?,
                             checkpointing: Bool) -> (Tensor, [Tensor], BlockPullback) {
        var h = x
        var skips: [Tensor] = []
        var layerPullbacks: [(ConditioningGradients, Tensor) -> Tensor] = []
        for (l, resnet) in resnets.enumerated() {
            let (out, pullback) = resnetLayer(resnet, attentions.isEmpty ? nil : attentions[l], h, temb: temb, context: context,
                                              arena: arena, checkpointing: checkpointing)
            h = out
            layerPullbacks.append(pullback)
            skips.append(h)
        }
        var downPullback: Pullback?
        if let downsampler {
            let (d, pullback) = downsampler.forwardWithPullback(h, arena: arena)
            h = d
            downPullback = pullback
            skips.append(h)
        }
        let layers = resnets.count
        return (h, skips, { dOut, dSkips, conditioning in
            // The last layer's output feeds the downsampler (or is the output) and is a skip itself.
            var dh: Tensor
            if let downPullback {
                let dDown = dOut.copy()
                Add.accumulate(dSkips[layers], into: dDown)
                dh = downPullback(dDown)
            } else {
                dh = dOut.copy()
            }
            Add.accumulate(dSkips[layers - 1], into: dh)
            for l in stride(from: layers - 1, through: 0, by: -1) {
                dh = layerPullbacks[l](conditioning, dh)
                if l > 0 { Add.accumulate(dSkips[l - 1], into: dh) }
            }
            return dh
        })
    }
}

extension UNetMidBlock {
    func forwardWithPullback(_ x: Tensor, temb: Tensor, context: Tensor, arena: ParameterArena?,
                             checkpointing: Bool) -> (Tensor, (Tensor, ConditioningGradients) -> Tensor) {
        let (a, pullback0) = resnet0.forwardWithPullback(x, activatedTimeEmbedding: temb, arena: arena, checkpointing: checkpointing)
        let (b, attentionPullback) = attention.forwardWithPullback(a, context: context, arena: arena, checkpointing: checkpointing)
        let (c, pullback1) = resnet1.forwardWithPullback(b, activatedTimeEmbedding: temb, arena: arena, checkpointing: checkpointing)
        return (c, { dc, conditioning in
            let db = conditioning.add(pullback1(dc))
            let da = conditioning.add(attentionPullback(db))
            return conditioning.add(pullback0(da))
        })
    }
}

extension UNetUpBlock {
    /// The pullback of an up block: ∂L/∂output → (∂L/∂input, ∂L/∂ each skip in the order consumed).
    typealias BlockPullback = (_ gradOutput: Tensor, _ conditioning: ConditioningGradients) -> (x: Tensor, skips: [Tensor])

    /// `skips` in the order the resnets consume them (the last-made first); `upsampleSize` is the
    /// size of the next skip connection, as in `callAsFunction`.
    func forwardWithPullback(_ x: Tensor, skips: [Tensor], upsampleSize: (Int, Int)?, temb: Tensor, context: Tensor,
                             arena: ParameterArena?, checkpointing: Bool) -> (Tensor, BlockPullback) {
        var h = x
        var layerPullbacks: [(ConditioningGradients, Tensor) -> (x: Tensor, skip: Tensor)] = []
        for (l, resnet) in resnets.enumerated() {
            let skip = skips[l]
            let extents = [h.shape[1], skip.shape[1]]
            let input = h
            let (out, layerPullback) = resnetLayer(resnet, attentions.isEmpty ? nil : attentions[l], Concat.forward([h, skip], axis: 1),
                                                   temb: temb, context: context, arena: arena, checkpointing: checkpointing)
            h = out
            layerPullbacks.append { conditioning, dh in
                let dConcat = layerPullback(conditioning, dh)
                let dInput = input.zerosLike(), dSkip = skip.zerosLike()
                Concat.backward(gradOutput: dConcat, axis: 1, gradInputs: [dInput, dSkip], extents: extents)
                return (dInput, dSkip)
            }
        }
        var upPullback: Pullback?
        if let upsampler {
            let (u, pullback) = upsampler.forwardWithPullback(h, size: upsampleSize.map { (height: $0.0, width: $0.1) }, arena: arena)
            h = u
            upPullback = pullback
        }
        return (h, { dOut, conditioning in
            var dh = upPullback.map { $0(dOut) } ?? dOut
            var dSkips: [Tensor] = []
            for l in stride(from: resnets.count - 1, through: 0, by: -1) {
                let gradients = layerPullbacks[l](conditioning, dh)
                dh = gradients.x
                dSkips.append(gradients.skip)
            }
            return (dh, dSkips.reversed())
        })
    }
}

/// One layer of a down or up block — a resnet, then (in cross-attention blocks) a transformer — with
/// the pullback from ∂L/∂output to ∂L/∂input, adding the conditioning gradients on the way.
func resnetLayer(_ resnet: ResnetBlock2D, _ attention: Transformer2D?, _ x: Tensor, temb: Tensor, context: Tensor,
                 arena: ParameterArena?, checkpointing: Bool) -> (Tensor, (ConditioningGradients, Tensor) -> Tensor) {
    let (r, resnetPullback) = resnet.forwardWithPullback(x, activatedTimeEmbedding: temb, arena: arena, checkpointing: checkpointing)
    guard let attention else { return (r, { conditioning, dr in conditioning.add(resnetPullback(dr)) }) }
    let (a, attentionPullback) = attention.forwardWithPullback(r, context: context, arena: arena, checkpointing: checkpointing)
    return (a, { conditioning, da in conditioning.add(resnetPullback(conditioning.add(attentionPullback(da)))) })
}

// MARK: Gradient checkpointing

extension ResnetBlock2D {
    /// With `checkpointing`, the forward pass keeps only the inputs and the pullback recomputes the
    /// block's activations first (diffusers' `gradient_checkpointing`, applied per resnet and per
    /// transformer as diffusers does): one more forward pass for far less memory.
    func forwardWithPullback(_ x: Tensor, activatedTimeEmbedding temb: Tensor, arena: ParameterArena?,
                             checkpointing: Bool) -> (Tensor, (Tensor) -> (x: Tensor, timeEmbedding: Tensor?)) {
        guard checkpointing else { return forwardWithPullback(x, activatedTimeEmbedding: temb, arena: arena) }
        // The recomputation runs with the LoRAs the forward pass had (backward runs outside its scope).
        let adapters = RowAdapters.current
        return (self(x, activatedTimeEmbedding: temb), { dy in
            RowAdapters.$current.withValue(adapters) { forwardWithPullback(x, activatedTimeEmbedding: temb, arena: arena).1(dy) }
        })
    }
}

extension Transformer2D {
    /// See `ResnetBlock2D.forwardWithPullback(_:activatedTimeEmbedding:arena:checkpointing:)`.
    func forwardWithPullback(_ x: Tensor, context: Tensor, arena: ParameterArena?,
                             checkpointing: Bool) -> (Tensor, (Tensor) -> (x: Tensor, context: Tensor)) {
        guard checkpointing else { return forwardWithPullback(x, context: context, arena: arena) }
        let adapters = RowAdapters.current
        return (self(x, context: context), { dy in
            RowAdapters.$current.withValue(adapters) { forwardWithPullback(x, context: context, arena: arena).1(dy) }
        })
    }
}

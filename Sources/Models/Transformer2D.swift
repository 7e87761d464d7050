// diffusers' Transformer2DModel as SD 1.x uses it: GroupNorm → proj_in → BasicTransformerBlocks
// (self-attention, cross-attention on the text embeddings, GEGLU feed-forward, each pre-LayerNorm
// with a residual) → proj_out, plus the input as a residual.
import Tensor
import Weights

/// One BasicTransformerBlock.
public struct BasicTransformerBlock: Sendable {
    public let norm1: LayerNormLayer
    public let selfAttention: MultiHeadAttention
    public let norm2: LayerNormLayer
    public let crossAttention: MultiHeadAttention
    public let norm3: LayerNormLayer
    public let feedForwardIn: LinearLayer  // ff.net.0.proj: [C] → [2·4C] (GEGLU halves)
    public let feedForwardOut: LinearLayer  // ff.net.2: [4C] → [C]

    public init(_ source: ParameterSource, _ prefix: String, channels: Int, contextChannels: Int, heads: Int) throws {
        norm1 = try LayerNormLayer(source, "\(prefix).norm1", features: channels, eps: 1e-5)
        selfAttention = try MultiHeadAttention(source, "\(prefix).attn1", naming: .diffusers, channels: channels,
                                               contextChannels: channels, heads: heads, projectionBias: false)
        norm2 = try LayerNormLayer(source, "\(prefix).norm2", features: channels, eps: 1e-5)
        crossAttention = try MultiHeadAttention(source, "\(prefix).attn2", naming: .diffusers, channels: channels,
                                                contextChannels: contextChannels, heads: heads, projectionBias: false)
        norm3 = try LayerNormLayer(source, "\(prefix).norm3", features: channels, eps: 1e-5)
        let inner = 4 * channels
        feedForwardIn = try LinearLayer(source, "\(prefix).ff.net.0.proj", in: channels, out: 2 * inner)
        feedForwardOut = try LinearLayer(source, "\(prefix).ff.net.2", in: inner, out: channels)
    }

    /// tokens [B, T, C], context [B, S, Cc] → [B, T, C]
    public func callAsFunction(_ tokens: Tensor, context: Tensor) -> Tensor {
        let x = tokens.copy()
        Add.accumulate(selfAttention(norm1(x)), into: x)
        Add.accumulate(crossAttention(norm2(x), context: context), into: x)
        Add.accumulate(feedForwardOut(GEGLU.forward(feedForwardIn(norm3(x)))), into: x)
        return x
    }
}

/// Transformer2DModel (continuous input, SD 1.x).
public struct Transformer2D: Sendable {
    public let norm: GroupNormLayer
    /// 1×1 convolution (SD 1.x) or linear layer (`use_linear_projection`, SD 2.x-style fine-tunes).
    public let projectionIn: Projection
    public let blocks: [BasicTransformerBlock]
    public let projectionOut: Projection

    /// proj_in / proj_out: a 1×1 convolution on [B, C, H, W] or a linear layer on [B, H·W, C].
    public enum Projection: Sendable {
        case convolution(Conv2dLayer)
        case linear(LinearLayer)
    }

    public init(_ source: ParameterSource, _ prefix: String, channels: Int, contextChannels: Int, heads: Int,
                layers: Int, groups: Int, linearProjection: Bool) throws {
        norm = try GroupNormLayer(source, "\(prefix).norm", groups: groups, channels: channels, eps: 1e-6)
        func projection(_ name: String) throws -> Projection {
            linearProjection
                ? .linear(try LinearLayer(source, "\(prefix).\(name)", in: channels, out: channels))
                : .convolution(try Conv2dLayer(source, "\(prefix).\(name)", in: channels, out: channels, kernel: 1))
        }
        projectionIn = try projection("proj_in")
        blocks = try (0..<layers).map {
            try BasicTransformerBlock(source, "\(prefix).transformer_blocks.\($0)", channels: channels,
                                      contextChannels: contextChannels, heads: heads)
        }
        projectionOut = try projection("proj_out")
    }

    /// x [B, C, H, W], context [B, S, Cc] → [B, C, H, W]
    public func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let normalized = norm(x)
        var tokens: Tensor  // [B, H·W, C]
        switch projectionIn {
        case .convolution(let conv): tokens = Transpose.forward(conv(normalized).reshaped([b, c, h * w]))
        case .linear(let linear): tokens = linear(Transpose.forward(normalized.reshaped([b, c, h * w])))
        }
        for block in blocks { tokens = block(tokens, context: context) }
        let out: Tensor  // [B, C, H, W]
        switch projectionOut {
        case .convolution(let conv): out = conv(Transpose.forward(tokens).reshaped([b, c, h, w]))
        case .linear(let linear): out = Transpose.forward(linear(tokens)).reshaped([b, c, h, w])
        }
        Add.accumulate(x, into: out)
        return out
    }
}

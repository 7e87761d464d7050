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

    /// tokens [B, T, C], context [B, S, Cc] → [B, T, C]; `contextLengths` as in `MultiHeadAttention`.
    public func callAsFunction(_ tokens: Tensor, context: Tensor, contextLengths: [Int]? = nil) -> Tensor {
        let x = tokens.copy()
        Add.accumulate(selfAttention(norm1(x)), into: x)
        Add.accumulate(crossAttention(norm2(x), context: context, contextLengths: contextLengths), into: x)
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

    /// x [B, C, H, W], context [B, S, Cc] → [B, C, H, W]; `contextLengths` as in `MultiHeadAttention`.
    public func callAsFunction(_ x: Tensor, context: Tensor, contextLengths: [Int]? = nil) -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let normalized = norm(x)
        var tokens: Tensor  // [B, H·W, C]
        switch projectionIn {
        case .convolution(let conv): tokens = Transpose.forward(conv(normalized).reshaped([b, c, h * w]))
        case .linear(let linear): tokens = linear(Transpose.forward(normalized.reshaped([b, c, h * w])))
        }
        for block in blocks { tokens = block(tokens, context: context, contextLengths: contextLengths) }
        switch projectionOut {
        case .convolution(let conv):  // the residual added as proj_out writes its output
            return conv(Transpose.forward(tokens).reshaped([b, c, h, w]), epilogue: ConvolutionEpilogue(residual: x))
        case .linear(let linear):
            let out = Transpose.forward(linear(tokens)).reshaped([b, c, h, w])
            Add.accumulate(x, into: out)
            return out
        }
    }
}

extension BasicTransformerBlock {
    /// As `callAsFunction`, and the pullback: ∂L/∂output → (∂L/∂tokens, ∂L/∂context).
    public func forwardWithPullback(_ tokens: Tensor, context: Tensor,
                                    arena: ParameterArena?) -> (Tensor, (Tensor) -> (tokens: Tensor, context: Tensor)) {
        // x1 = x0 + attn1(norm1(x0)); x2 = x1 + attn2(norm2(x1), ctx); x3 = x2 + ff(norm3(x2))
        let (a, norm1Pullback) = norm1.forwardWithPullback(tokens, arena: arena)
        let (s, selfPullback) = selfAttention.forwardWithPullback(a, arena: arena)
        let x1 = tokens.copy()
        Add.accumulate(s, into: x1)
        let (b, norm2Pullback) = norm2.forwardWithPullback(x1, arena: arena)
        let (c, crossPullback) = crossAttention.forwardWithPullback(b, context: context, arena: arena)
        let x2 = x1.copy()
        Add.accumulate(c, into: x2)
        let (d, norm3Pullback) = norm3.forwardWithPullback(x2, arena: arena)
        let (e, inPullback) = feedForwardIn.forwardWithPullback(d, arena: arena)
        let f = GEGLU.forward(e)
        let (g, outPullback) = feedForwardOut.forwardWithPullback(f, arena: arena)
        let x3 = x2.copy()
        Add.accumulate(g, into: x3)
        return (x3, { dx3 in
            // Each residual passes its gradient through unchanged and adds its branch's.
            let dx2 = dx3.copy()
            let de = e.zerosLike()
            GEGLU.backward(gradOutput: outPullback(dx3), input: e, gradInput: de)
            Add.accumulate(norm3Pullback(inPullback(de)), into: dx2)
            let dx1 = dx2.copy()
            let cross = crossPullback(dx2)
            Add.accumulate(norm2Pullback(cross.x), into: dx1)
            let dx0 = dx1.copy()
            Add.accumulate(norm1Pullback(selfPullback(dx1).x), into: dx0)
            return (dx0, cross.context!)
        })
    }
}

extension Transformer2D.Projection {
    /// proj_in/proj_out with its pullback, on [B, C, H, W] (convolution) or [B, H·W, C] (linear).
    func forwardWithPullback(_ x: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        switch self {
        case .convolution(let conv): conv.forwardWithPullback(x, arena: arena)
        case .linear(let linear): linear.forwardWithPullback(x, arena: arena)
        }
    }
}

extension Transformer2D {
    /// As `callAsFunction`, and the pullback: ∂L/∂output → (∂L/∂x, ∂L/∂context).
    public func forwardWithPullback(_ x: Tensor, context: Tensor,
                                    arena: ParameterArena?) -> (Tensor, (Tensor) -> (x: Tensor, context: Tensor)) {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (normalized, normPullback) = norm.forwardWithPullback(x, arena: arena)
        // Channel-first [B, C, H·W] ⇄ token-major [B, H·W, C] around the projection that works on each.
        var tokens: Tensor
        let inPullback: Pullback
        switch projectionIn {
        case .convolution:
            let (projected, pullback) = projectionIn.forwardWithPullback(normalized, arena: arena)
            tokens = Transpose.forward(projected.reshaped([b, c, h * w]))
            inPullback = { dTokens in
                let dProjected = Tensor(zeros: [b, c, h * w])
                Transpose.backward(gradOutput: dTokens, gradInput: dProjected)
                return pullback(dProjected.reshaped([b, c, h, w]))
            }
        case .linear:
            let (projected, pullback) = projectionIn.forwardWithPullback(Transpose.forward(normalized.reshaped([b, c, h * w])), arena: arena)
            tokens = projected
            inPullback = { dTokens in
                let dNormalized = Tensor(zeros: [b, c, h * w])
                Transpose.backward(gradOutput: pullback(dTokens), gradInput: dNormalized)
                return dNormalized.reshaped([b, c, h, w])
            }
        }
        var blockPullbacks: [(Tensor) -> (tokens: Tensor, context: Tensor)] = []
        for block in blocks {
            let (next, pullback) = block.forwardWithPullback(tokens, context: context, arena: arena)
            tokens = next
            blockPullbacks.append(pullback)
        }
        let out: Tensor  // [B, C, H, W]
        let outPullback: Pullback  // ∂out → ∂tokens
        switch projectionOut {
        case .convolution(let conv):  // the residual added as proj_out writes its output, as in the forward pass
            let (projected, pullback) = conv.forwardWithPullback(Transpose.forward(tokens).reshaped([b, c, h, w]), arena: arena,
                                                                 epilogue: ConvolutionEpilogue(residual: x))
            out = projected
            outPullback = { dOut in
                let dTokens = Tensor(zeros: [b, h * w, c])
                Transpose.backward(gradOutput: pullback(dOut).reshaped([b, c, h * w]), gradInput: dTokens)
                return dTokens
            }
        case .linear:
            let (projected, pullback) = projectionOut.forwardWithPullback(tokens, arena: arena)
            out = Transpose.forward(projected).reshaped([b, c, h, w])
            Add.accumulate(x, into: out)
            outPullback = { dOut in
                let dProjected = Tensor(zeros: [b, h * w, c])
                Transpose.backward(gradOutput: dOut.reshaped([b, c, h * w]), gradInput: dProjected)
                return pullback(dProjected)
            }
        }
        return (out, { dOut in
            var dTokens = outPullback(dOut)
            let dContext = context.zerosLike()
            for pullback in blockPullbacks.reversed() {
                let gradients = pullback(dTokens)
                dTokens = gradients.tokens
                Add.accumulate(gradients.context, into: dContext)
            }
            let dx = normPullback(inPullback(dTokens))
            Add.accumulate(dOut, into: dx)  // the residual
            return (dx, dContext)
        })
    }
}

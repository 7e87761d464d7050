// Multi-head attention with its projections: diffusers' `Attention` (to_q/to_k/to_v/to_out.0) and
// transformers' `CLIPAttention` (q_proj/k_proj/v_proj/out_proj) share this one implementation.
import Tensor
import Weights

/// Projections + scaled dot-product attention over packed heads.
public struct MultiHeadAttention: Sendable {
    /// How the checkpoint names the four projections.
    public enum Naming: Sendable {
        /// diffusers: to_q, to_k, to_v, to_out.0
        case diffusers
        /// transformers CLIP: q_proj, k_proj, v_proj, out_proj
        case clip

        var keys: (q: String, k: String, v: String, out: String) {
            switch self {
            case .diffusers: ("to_q", "to_k", "to_v", "to_out.0")
            case .clip: ("q_proj", "k_proj", "v_proj", "out_proj")
            }
        }
    }

    public let toQuery: LinearLayer
    public let toKey: LinearLayer
    public let toValue: LinearLayer
    public let toOut: LinearLayer
    public let heads: Int

    /// - Parameters:
    ///   - channels: query (and output) width; `contextChannels`: key/value input width.
    ///   - projectionBias: whether q/k/v have biases (CLIP and the VAE: yes; the UNet: no).
    public init(_ source: ParameterSource, _ prefix: String, naming: Naming, channels: Int, contextChannels: Int,
                heads: Int, projectionBias: Bool, initializer: ParameterInitializer? = nil) throws {
        let k = naming.keys
        toQuery = try LinearLayer(source, "\(prefix).\(k.q)", in: channels, out: channels, bias: projectionBias, initializer: initializer)
        toKey = try LinearLayer(source, "\(prefix).\(k.k)", in: contextChannels, out: channels, bias: projectionBias, initializer: initializer)
        toValue = try LinearLayer(source, "\(prefix).\(k.v)", in: contextChannels, out: channels, bias: projectionBias, initializer: initializer)
        toOut = try LinearLayer(source, "\(prefix).\(k.out)", in: channels, out: channels, bias: true, initializer: initializer)
        self.heads = heads
    }

    /// x [B, T, C], context [B, S, Cc] (nil: self-attention) → [B, T, C]. `contextLengths`: row b
    /// attends over its first contextLengths[b] context tokens only (the rest is padding); nil: all S.
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, causal: Bool = false, contextLengths: [Int]? = nil) -> Tensor {
        let source = context ?? x
        let q = toQuery(x), k = toKey(source), v = toValue(source)  // [B, T, C], [B, S, C], [B, S, C]
        let attended = Attention.forward(query: q, key: k, value: v, heads: heads, causal: causal, keyLengths: contextLengths).output
        return toOut(attended)
    }
}

extension MultiHeadAttention {
    /// The gradients a pullback returns: the query input's, and the context's (nil for self-attention,
    /// whose key/value gradients are already part of `x`).
    public typealias InputGradients = (x: Tensor, context: Tensor?)

    /// As `callAsFunction`, and the pullback. Attention's backward recomputes the probabilities from
    /// the saved log-sum-exp rather than keeping the T×S matrix.
    public func forwardWithPullback(_ x: Tensor, context: Tensor? = nil, causal: Bool = false,
                                    arena: ParameterArena?) -> (Tensor, (Tensor) -> InputGradients) {
        let source = context ?? x
        let (q, queryPullback) = toQuery.forwardWithPullback(x, arena: arena)
        let (k, keyPullback) = toKey.forwardWithPullback(source, arena: arena)
        let (v, valuePullback) = toValue.forwardWithPullback(source, arena: arena)
        let (attended, logSumExp) = Attention.forward(query: q, key: k, value: v, heads: heads, causal: causal)
        let (y, outPullback) = toOut.forwardWithPullback(attended, arena: arena)
        return (y, { dy in
            let dAttended = outPullback(dy)
            let dq = q.zerosLike(), dk = k.zerosLike(), dv = v.zerosLike()
            Attention.backward(gradOutput: dAttended, query: q, key: k, value: v, output: attended, logSumExp: logSumExp,
                               heads: heads, causal: causal, gradQuery: dq, gradKey: dk, gradValue: dv)
            let dx = queryPullback(dq)
            let dSource = keyPullback(dk)
            Add.accumulate(valuePullback(dv), into: dSource)
            guard context != nil else {
                Add.accumulate(dSource, into: dx)
                return (dx, nil)
            }
            return (dx, dSource)
        })
    }
}

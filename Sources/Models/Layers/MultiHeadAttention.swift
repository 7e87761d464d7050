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

    /// x [B, T, C], context [B, S, Cc] (nil: self-attention) → [B, T, C]
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, causal: Bool = false) -> Tensor {
        let source = context ?? x
        let q = toQuery(x), k = toKey(source), v = toValue(source)  // [B, T, C], [B, S, C], [B, S, C]
        let attended = Attention.forward(query: q, key: k, value: v, heads: heads, causal: causal).output
        return toOut(attended)
    }
}

// transformers' CLIPTextModel (the text tower SD 1.x conditions on): token + position embeddings,
// pre-LayerNorm transformer layers with causal self-attention and a quick-GELU MLP, and a final
// LayerNorm. Keys as transformers 5 saves them (no `text_model.` prefix; the loader accepts both).
import Foundation
import Tensor
import Weights

/// The CLIP text encoder.
public struct CLIPTextEncoder: Sendable {
    public let configuration: CLIPTextConfiguration
    public let tokenEmbedding: Tensor  // [vocab, C]
    public let positionEmbedding: Tensor  // [positions, C]
    public let layers: [CLIPEncoderLayer]
    public let finalLayerNorm: LayerNormLayer

    public init(configuration c: CLIPTextConfiguration, parameters source: ParameterSource) throws {
        try c.validate()
        configuration = c
        tokenEmbedding = try source.parameter("embeddings.token_embedding.weight", shape: [c.vocabSize, c.hiddenSize], initializer: .normal(std: 0.02))
        positionEmbedding = try source.parameter("embeddings.position_embedding.weight", shape: [c.maxPositionEmbeddings, c.hiddenSize], initializer: .normal(std: 0.02))
        layers = try (0..<c.numHiddenLayers).map { try CLIPEncoderLayer(source, "encoder.layers.\($0)", configuration: c) }
        finalLayerNorm = try LayerNormLayer(source, "final_layer_norm", features: c.hiddenSize, eps: c.layerNormEps)
    }

    /// Hidden states [B, T, C] for token ids [B][T].
    ///
    /// - Parameter clipSkip: as A1111 defines it: 1 uses the last layer, 2 the one before it, and so
    ///   on; the final LayerNorm is applied to whichever layer's output is used (diffusers' `clip_skip`
    ///   is this value minus one).
    public func callAsFunction(_ tokens: [[Int]], clipSkip: Int = 1) -> Tensor {
        let length = tokens.first?.count ?? 0
        precondition(tokens.allSatisfy { $0.count == length } && length <= configuration.maxPositionEmbeddings,
                     "text encoder: token rows must share one length ≤ \(configuration.maxPositionEmbeddings)")
        precondition(clipSkip >= 1 && clipSkip <= layers.count, "clip skip \(clipSkip) outside 1...\(layers.count)")
        var h = embed(tokens)
        for layer in layers.prefix(layers.count - (clipSkip - 1)) { h = layer(h) }
        return finalLayerNorm(h)
    }

    /// Token + position embeddings: [B, T, C].
    func embed(_ tokens: [[Int]]) -> Tensor {
        let batch = tokens.count, length = tokens.first?.count ?? 0, width = configuration.hiddenSize
        precondition(tokens.allSatisfy { $0.count == length } && length <= configuration.maxPositionEmbeddings,
                     "text encoder: token rows must share one length ≤ \(configuration.maxPositionEmbeddings)")
        let h = Tensor(uninitialized: [batch, length, width])
        for (b, row) in tokens.enumerated() {
            for (t, id) in row.enumerated() {
                precondition(id >= 0 && id < configuration.vocabSize, "token id \(id) outside the vocabulary")
                let dst = h.pointer + (b * length + t) * width
                let token = tokenEmbedding.pointer + id * width, position = positionEmbedding.pointer + t * width
                for i in 0..<width { dst[i] = token[i] + position[i] }
            }
        }
        return h
    }
}

/// One CLIPEncoderLayer: x + attn(ln1(x)), then + mlp(ln2(·)).
public struct CLIPEncoderLayer: Sendable {
    public let layerNorm1: LayerNormLayer
    public let selfAttention: MultiHeadAttention
    public let layerNorm2: LayerNormLayer
    public let fc1: LinearLayer
    public let fc2: LinearLayer
    public let quickGELU: Bool

    init(_ source: ParameterSource, _ prefix: String, configuration c: CLIPTextConfiguration) throws {
        // transformers' CLIP initialisation (factor 1): projections N(0, (C^-½)(2L)^-½) for q/k/v/out,
        // fc1 N(0, (2C)^-½), fc2 N(0, C^-½ (2L)^-½), biases 0.
        let width = Float(c.hiddenSize), depth = Float(2 * c.numHiddenLayers)
        let projectionStd = 1 / width.squareRoot() / depth.squareRoot()
        layerNorm1 = try LayerNormLayer(source, "\(prefix).layer_norm1", features: c.hiddenSize, eps: c.layerNormEps)
        selfAttention = try MultiHeadAttention(source, "\(prefix).self_attn", naming: .clip, channels: c.hiddenSize,
                                               contextChannels: c.hiddenSize, heads: c.numAttentionHeads, projectionBias: true,
                                               initializer: .normal(std: projectionStd))
        layerNorm2 = try LayerNormLayer(source, "\(prefix).layer_norm2", features: c.hiddenSize, eps: c.layerNormEps)
        fc1 = try LinearLayer(source, "\(prefix).mlp.fc1", in: c.hiddenSize, out: c.intermediateSize,
                              initializer: .normal(std: 1 / (2 * width).squareRoot()))
        fc2 = try LinearLayer(source, "\(prefix).mlp.fc2", in: c.intermediateSize, out: c.hiddenSize,
                              initializer: .normal(std: projectionStd))
        quickGELU = c.hiddenAct == "quick_gelu"
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = x.copy()
        Add.accumulate(selfAttention(layerNorm1(h), causal: true), into: h)
        let hidden = fc1(layerNorm2(h))
        if quickGELU { QuickGELU.forwardInPlace(hidden) } else { GELU.forwardInPlace(hidden) }
        Add.accumulate(fc2(hidden), into: h)
        return h
    }
}

// MARK: Pullbacks (training the text encoder, `train_text_encoder`)

extension CLIPEncoderLayer {
    /// As `callAsFunction`, and the pullback.
    func forwardWithPullback(_ x: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        let (a, norm1Pullback) = layerNorm1.forwardWithPullback(x, arena: arena)
        let (s, attentionPullback) = selfAttention.forwardWithPullback(a, causal: true, arena: arena)
        let h1 = x.copy()
        Add.accumulate(s, into: h1)
        let (b, norm2Pullback) = layerNorm2.forwardWithPullback(h1, arena: arena)
        let (hidden, fc1Pullback) = fc1.forwardWithPullback(b, arena: arena)
        let activated = quickGELU ? QuickGELU.forward(hidden) : GELU.forward(hidden)
        let (m, fc2Pullback) = fc2.forwardWithPullback(activated, arena: arena)
        let h2 = h1.copy()
        Add.accumulate(m, into: h2)
        return (h2, { dh2 in
            let dActivated = fc2Pullback(dh2)
            let dHidden = hidden.zerosLike()
            if quickGELU {
                QuickGELU.backward(gradOutput: dActivated, input: hidden, gradInput: dHidden)
            } else {
                GELU.backward(gradOutput: dActivated, input: hidden, gradInput: dHidden)
            }
            let dh1 = dh2.copy()
            Add.accumulate(norm2Pullback(fc1Pullback(dHidden)), into: dh1)
            let dx = dh1.copy()
            Add.accumulate(norm1Pullback(attentionPullback(dh1).x), into: dx)
            return dx
        })
    }
}

extension CLIPTextEncoder {
    /// As `callAsFunction` (clip skip 1, what training uses), and the pullback: ∂L/∂hidden states →
    /// every parameter's gradient, including the rows of the token embedding the tokens used.
    /// With `checkpointing`, each layer keeps only its input and recomputes its activations in backward.
    public func forwardWithPullback(_ tokens: [[Int]], arena: ParameterArena?,
                                    checkpointing: Bool = false) -> (Tensor, (Tensor) -> Void) {
        let length = tokens.first?.count ?? 0, width = configuration.hiddenSize
        var h = embed(tokens)
        var layerPullbacks: [Pullback] = []
        for layer in layers {
            if checkpointing {
                let input = h
                h = layer(input)
                let adapters = RowAdapters.current  // LoRAs again in the recomputation
                layerPullbacks.append { dy in RowAdapters.$current.withValue(adapters) { layer.forwardWithPullback(input, arena: arena).1(dy) } }
            } else {
                let (next, pullback) = layer.forwardWithPullback(h, arena: arena)
                h = next
                layerPullbacks.append(pullback)
            }
        }
        let (output, finalPullback) = finalLayerNorm.forwardWithPullback(h, arena: arena)
        return (output, { dOutput in
            var dh = finalPullback(dOutput)
            for pullback in layerPullbacks.reversed() { dh = pullback(dh) }
            // Embeddings: each (b, t) row of dh goes to its token's row and its position's row.
            let dToken = arena?.gradient(of: tokenEmbedding), dPosition = arena?.gradient(of: positionEmbedding)
            for (b, row) in tokens.enumerated() {
                for (t, id) in row.enumerated() {
                    let g = dh.pointer + (b * length + t) * width
                    if let dToken { for i in 0..<width { dToken.pointer[id * width + i] += g[i] } }
                    if let dPosition { for i in 0..<width { dPosition.pointer[t * width + i] += g[i] } }
                }
            }
        })
    }
}

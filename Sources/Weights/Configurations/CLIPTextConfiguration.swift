// `text_encoder/config.json` of transformers' CLIPTextModel, with the `sd15` and `tiny` presets.
import Foundation

/// Configuration of a CLIP text encoder.
public struct CLIPTextConfiguration: Codable, Equatable, Sendable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var maxPositionEmbeddings: Int
    /// "quick_gelu" (CLIP ViT-L/14, SD 1.x) or "gelu" (OpenCLIP).
    public var hiddenAct: String
    public var layerNormEps: Float
    public var bosTokenId: Int
    public var eosTokenId: Int
    public var padTokenId: Int
    public var projectionDim: Int

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
        case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id", padTokenId = "pad_token_id"
        case projectionDim = "projection_dim", architectures, modelType = "model_type"
    }

    public init(hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, projectionDim: Int) {
        vocabSize = 49408; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers; self.numAttentionHeads = numAttentionHeads
        maxPositionEmbeddings = 77; hiddenAct = "quick_gelu"; layerNormEps = 1e-5
        bosTokenId = 49406; eosTokenId = 49407; padTokenId = 1; self.projectionDim = projectionDim
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.value(.vocabSize, default: 49408)
        hiddenSize = try c.value(.hiddenSize, default: 512)
        intermediateSize = try c.value(.intermediateSize, default: 2048)
        numHiddenLayers = try c.value(.numHiddenLayers, default: 12)
        numAttentionHeads = try c.value(.numAttentionHeads, default: 8)
        maxPositionEmbeddings = try c.value(.maxPositionEmbeddings, default: 77)
        hiddenAct = try c.value(.hiddenAct, default: "quick_gelu")
        layerNormEps = try c.value(.layerNormEps, default: 1e-5)
        bosTokenId = try c.value(.bosTokenId, default: 49406)
        eosTokenId = try c.value(.eosTokenId, default: 49407)
        padTokenId = try c.value(.padTokenId, default: 1)
        projectionDim = try c.value(.projectionDim, default: 512)
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(["CLIPTextModel"], forKey: .architectures); try c.encode("clip_text_model", forKey: .modelType)
        try c.encode(vocabSize, forKey: .vocabSize); try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize); try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads); try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(hiddenAct, forKey: .hiddenAct); try c.encode(layerNormEps, forKey: .layerNormEps)
        try c.encode(bosTokenId, forKey: .bosTokenId); try c.encode(eosTokenId, forKey: .eosTokenId)
        try c.encode(padTokenId, forKey: .padTokenId); try c.encode(projectionDim, forKey: .projectionDim)
    }

    public func validate() throws {
        func fail(_ key: String, _ value: String, _ reason: String) -> ConfigurationError {
            .unsupported(file: "", key: key, value: value, reason: reason)
        }
        guard ["quick_gelu", "gelu"].contains(hiddenAct) else { throw fail("hidden_act", hiddenAct, "CLIP uses quick_gelu or gelu") }
        guard numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw fail("num_attention_heads", "\(numAttentionHeads)", "does not divide hidden_size \(hiddenSize)")
        }
    }

    /// CLIP ViT-L/14's text tower, as SD 1.x uses it (123.1 M parameters).
    public static let sd15 = CLIPTextConfiguration(hiddenSize: 768, intermediateSize: 3072, numHiddenLayers: 12, numAttentionHeads: 12, projectionDim: 768)

    /// A tiny text encoder with the real vocabulary (so real prompts tokenize), for tests and the demo model.
    public static let tiny = CLIPTextConfiguration(hiddenSize: 32, intermediateSize: 37, numHiddenLayers: 2, numAttentionHeads: 4, projectionDim: 32)
}

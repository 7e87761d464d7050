// Prompt → text embeddings, as StableDiffusionPipeline.encode_prompt does for SD 1.x: CLIP tokens
// padded to 77, the text encoder's last hidden state (or an earlier layer with clip skip), and the
// negative prompt (empty by default) encoded the same way for classifier-free guidance.
import Models
import Tensor

/// Embeddings of one prompt.
public struct PromptEmbedding: Sendable {
    /// [1, 77, C]
    public let embedding: Tensor
    /// How the prompt was tokenized (how many tokens were cut off past 75).
    public let tokens: TokenizedPrompt
}

/// Tokenizer + text encoder.
public struct TextConditioner: Sendable {
    public let tokenizer: CLIPTokenizer
    public let encoder: CLIPTextEncoder

    public init(tokenizer: CLIPTokenizer, encoder: CLIPTextEncoder) {
        self.tokenizer = tokenizer
        self.encoder = encoder
    }

    /// Tokens of a prompt, padded/truncated to the encoder's context length.
    public func tokenize(_ prompt: String) -> TokenizedPrompt {
        tokenizer.tokenize(prompt, length: encoder.configuration.maxPositionEmbeddings)
    }

    /// Encodes several prompts in one text-encoder call → one embedding each.
    public func encode(_ prompts: [TokenizedPrompt], clipSkip: Int = 1) -> [PromptEmbedding] {
        guard !prompts.isEmpty else { return [] }
        let hidden = encoder(prompts.map(\.ids), clipSkip: clipSkip)  // [B, 77, C]
        return prompts.enumerated().map { i, tokens in
            PromptEmbedding(embedding: hidden.slice(i..<(i + 1)).copy(), tokens: tokens)
        }
    }
}

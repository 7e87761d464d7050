// Prompt → text embeddings for classifier-free guidance. The prompt and the negative prompt (empty by
// default, as diffusers encodes `negative_prompt=None`) are read in the request's prompt syntax,
// chunked by 75 tokens and encoded as A1111 does (ChunkedPromptEncoding). A prompt of at most 75
// tokens without weights is one chunk, the very input diffusers' encode_prompt gives CLIP: its
// embedding is diffusers' [1, 77, C].
import Models
import Tensor

/// Embeddings of one prompt.
public struct PromptEmbedding: Sendable {
    /// [1, 77 · chunk count, C]
    public let embedding: Tensor
    /// The chunks it was encoded from (token ids, weights, A1111's token count).
    public let chunks: PromptChunks
}

/// Tokenizer + text encoder.
public struct TextConditioner: Sendable {
    public let tokenizer: CLIPTokenizer
    public let encoder: CLIPTextEncoder

    public init(tokenizer: CLIPTokenizer, encoder: CLIPTextEncoder) {
        self.tokenizer = tokenizer
        self.encoder = encoder
    }

    /// Tokens of a prompt, padded or cut to the encoder's context length, as diffusers' pipelines and
    /// training scripts tokenize (the trainer's captions).
    public func tokenize(_ prompt: String) -> TokenizedPrompt {
        tokenizer.tokenize(prompt, length: encoder.configuration.maxPositionEmbeddings)
    }
}

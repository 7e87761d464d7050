// A prompt of any length as AUTOMATIC1111 feeds it to CLIP: its weighted runs (PromptEmphasis)
// tokenized run by run, then dealt into chunks of 75 tokens, each sent to the text encoder as
// `<|startoftext|>` + 75 + `<|endoftext|>` (77, CLIP's context) and the encoder outputs concatenated
// along the sequence. Rules, A1111's (modules/sd_hijack_clip.py, tokenize_line):
//   • a chunk shorter than 75 is closed by `<|endoftext|>` and padded with the tokenizer's pad token,
//     weight 1 (SD 1.x pads with `<|endoftext|>`, so this is A1111's chunk; a tokenizer with another pad
//     token gets diffusers' padding, as A1111's id_pad does); start and end tokens weigh 1;
//   • BREAK closes the current chunk at once (padding it), even an empty one;
//   • comma backtrack: when a chunk is full and the next token is not a comma, and the chunk's last
//     comma lies at most `commaBacktrack` (A1111's default 20) tokens before its end, the tokens after
//     that comma move to the next chunk, so that a phrase is not cut in half;
//   • the last chunk is emitted if it holds tokens, or if there is no chunk yet (an empty prompt is
//     one chunk of padding).
// `tokenCount` is A1111's count for its "n/75" display: 75 per closed chunk plus the last one's tokens.
// Golden test: Tests/SamplingTests/PromptChunksTests.swift, fixture from A1111's own tokenize_line.
import Models

/// The chunks of one prompt.
public struct PromptChunks: Sendable, Hashable {
    /// One encoder input: 77 token ids and the weight of each.
    public struct Chunk: Sendable, Hashable {
        public var tokens: [Int]
        public var multipliers: [Double]
    }

    /// Prompt tokens per chunk (CLIP's context of 77 less the start and end tokens).
    public static let chunkLength = 75
    /// A1111's default of `comma_padding_backtrack`.
    public static let defaultCommaBacktrack = 20

    public let chunks: [Chunk]
    /// A1111's token count (see the file header).
    public let tokenCount: Int

    /// Chunks `prompt` (already parsed) with `tokenizer`.
    public init(_ prompt: PromptEmphasis, tokenizer: CLIPTokenizer, commaBacktrack: Int = defaultCommaBacktrack) {
        let length = Self.chunkLength
        let start = tokenizer.bosTokenID, end = tokenizer.eosTokenID, pad = tokenizer.padTokenID
        let comma = tokenizer.encode(",").first
        var chunks: [Chunk] = []
        var tokens: [Int] = [], multipliers: [Double] = []
        var tokenCount = 0
        var lastComma: Int? = nil

        func closeChunk(isLast: Bool = false) {
            tokenCount += isLast ? tokens.count : length
            let padding = max(length - tokens.count, 0)
            chunks.append(Chunk(tokens: [start] + tokens + [end] + Array(repeating: pad, count: padding),
                                multipliers: [1] + multipliers + Array(repeating: 1, count: padding) + [1]))
            tokens = []; multipliers = []
            lastComma = nil
        }

        for run in prompt.runs {
            if run.isBreak {
                closeChunk()
                continue
            }
            for token in tokenizer.encode(run.text) {
                if token == comma {
                    lastComma = tokens.count
                } else if commaBacktrack != 0, tokens.count == length, let at = lastComma, tokens.count - at <= commaBacktrack {
                    // The phrase after the last comma moves whole into the next chunk.
                    let movedTokens = Array(tokens[(at + 1)...]), movedMultipliers = Array(multipliers[(at + 1)...])
                    tokens.removeSubrange((at + 1)...)
                    multipliers.removeSubrange((at + 1)...)
                    closeChunk()
                    tokens = movedTokens; multipliers = movedMultipliers
                }
                if tokens.count == length { closeChunk() }
                tokens.append(token)
                multipliers.append(run.weight)
            }
        }
        if !tokens.isEmpty || chunks.isEmpty { closeChunk(isLast: true) }
        self.chunks = chunks
        self.tokenCount = tokenCount
    }
}

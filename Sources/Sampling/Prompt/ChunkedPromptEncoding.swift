// Prompts of any length encoded as AUTOMATIC1111 encodes them: each prompt's chunks (PromptChunks)
// through the text encoder — all chunks of all prompts in one call, a chunk per row — each chunk
// weighted by its multipliers with the mean restored (EmphasisWeighting), and a prompt's chunks laid
// end to end along the sequence axis: [1, 77·k, C]. The rows of one prompt are contiguous in the
// encoder's output, so its concatenation is a copy of one slice. Clip skip is the encoder's (the
// hidden state n − 1 layers from the top, through the final layer norm, as A1111's
// CLIP_stop_at_last_layers). Text-encoder LoRAs given as RowAdapters apply per encoder row, i.e.
// per chunk.
// Golden test: Tests/SamplingTests/ChunkedPromptEncodingTests.swift, fixture from A1111's own forward().
import Models
import Tensor

extension TextConditioner {
    /// `prompt` read in `syntax` and dealt into 75-token chunks.
    public func chunks(of prompt: String, syntax: PromptSyntax = .a1111) throws(PromptEmphasis.InvalidWeight) -> PromptChunks {
        PromptChunks(try syntax.parse(prompt), tokenizer: tokenizer)
    }

    /// Each prompt's chunks encoded and weighted: [1, 77 · its chunk count, C] per prompt, from one
    /// text-encoder call.
    public func encode(_ prompts: [PromptChunks], clipSkip: Int = 1) -> [Tensor] {
        precondition(prompts.allSatisfy { !$0.chunks.isEmpty }, "a chunked prompt has at least one chunk")
        let chunks = prompts.flatMap(\.chunks)
        guard !chunks.isEmpty else { return [] }
        let hidden = encoder(chunks.map(\.tokens), clipSkip: clipSkip)  // [Σk, 77, C]
        for (index, chunk) in chunks.enumerated() {
            EmphasisWeighting.applyOriginal(to: hidden[index], multipliers: chunk.multipliers)
        }
        var row = 0
        return prompts.map { prompt in
            let k = prompt.chunks.count
            defer { row += k }
            return hidden.slice(row..<(row + k)).copy().reshaped([1, k * hidden.shape[1], hidden.shape[2]])
        }
    }

    /// `chunks` encoded and weighted: [1, 77 · chunk count, C].
    public func encode(_ chunks: PromptChunks, clipSkip: Int = 1) -> Tensor {
        encode([chunks], clipSkip: clipSkip)[0]
    }
}

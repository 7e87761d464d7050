// A prompt of any length encoded as AUTOMATIC1111 encodes it: its chunks (PromptChunks) through the
// text encoder — one call, a chunk per row — each chunk weighted by its multipliers with the mean
// restored (EmphasisWeighting), and the chunks laid end to end along the sequence axis: [1, 77·k, C].
// The rows of the encoder's [k, 77, C] output are already contiguous in that order, so the
// concatenation is a reshape. Clip skip is the encoder's (the hidden state n − 1 layers from the top,
// through the final layer norm, as A1111's CLIP_stop_at_last_layers).
// Golden test: Tests/SamplingTests/ChunkedPromptEncodingTests.swift, fixture from A1111's own forward().
import Models
import Tensor

extension TextConditioner {
    /// `chunks` encoded and weighted: [1, 77 · chunk count, C].
    public func encode(_ chunks: PromptChunks, clipSkip: Int = 1) -> Tensor {
        precondition(!chunks.chunks.isEmpty, "a chunked prompt has at least one chunk")
        let hidden = encoder(chunks.chunks.map(\.tokens), clipSkip: clipSkip)  // [k, 77, C]
        for (index, chunk) in chunks.chunks.enumerated() {
            EmphasisWeighting.applyOriginal(to: hidden[index], multipliers: chunk.multipliers)
        }
        let tokens = hidden.shape[0] * hidden.shape[1]
        return hidden.reshaped([1, tokens, hidden.shape[2]])
    }
}

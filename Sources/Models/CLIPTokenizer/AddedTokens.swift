// Added tokens (`<|startoftext|>`, `<|endoftext|>`, textual-inversion tokens…): found in the text before BPE.
//
// Reference: `tokenizers` `added_vocabulary.rs` (`extract_and_normalize`): tokens with `normalized: false` are
// matched in the raw text, leftmost-longest; the text between them is normalized; tokens with
// `normalized: true` are then matched in that normalized text. SD 1.x folders mark `<|startoftext|>`
// normalized, so "<|STARTOFTEXT|>" in a prompt is that token too, while "<|ENDOFTEXT|>" is plain text.
// The `lstrip`, `rstrip` and `single_word` options are not honoured: CLIP's tokens do not set them, and
// the whitespace they would strip is dropped by the pre-tokenizer anyway.

/// One token that is matched as a whole in the text rather than built by BPE.
struct AddedToken: Sendable, Equatable {
    let content: String
    let id: Int
    /// Matched in the normalized text (true) or in the raw text (false).
    let normalized: Bool
    /// Special tokens can be skipped when decoding.
    let special: Bool
}

/// Splits text around one set of added tokens.
struct AddedTokenMatcher: Sendable {
    private let tokens: [(scalars: [Unicode.Scalar], id: Int)]

    init(_ tokens: [AddedToken]) {
        // Longest first, so the first match at a position is the longest one.
        self.tokens = tokens.map { (Array($0.content.unicodeScalars), $0.id) }
            .filter { !$0.0.isEmpty }
            .sorted { $0.0.count > $1.0.count }
    }

    var isEmpty: Bool { tokens.isEmpty }

    /// A piece of text between tokens, or a token's id.
    enum Segment {
        case text(ArraySlice<Unicode.Scalar>)
        case token(Int)
    }

    /// Calls `body` with the text before each token, the token, …, the text after the last token.
    /// Empty text is not reported.
    func split(_ text: [Unicode.Scalar], _ body: (Segment) -> Void) {
        guard !tokens.isEmpty else {
            if !text.isEmpty { body(.text(text[...])) }
            return
        }
        var start = 0, i = 0
        while i < text.count {
            if let (length, id) = match(text, at: i) {
                if start < i { body(.text(text[start..<i])) }
                body(.token(id))
                i += length
                start = i
            } else {
                i += 1
            }
        }
        if start < text.count { body(.text(text[start...])) }
    }

    private func match(_ text: [Unicode.Scalar], at position: Int) -> (length: Int, id: Int)? {
        candidates: for (scalars, id) in tokens where scalars[0] == text[position] {
            guard position + scalars.count <= text.count else { continue }
            for k in 1..<scalars.count where text[position + k] != scalars[k] { continue candidates }
            return (scalars.count, id)
        }
        return nil
    }
}

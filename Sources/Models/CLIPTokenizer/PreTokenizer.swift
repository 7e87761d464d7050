// The CLIP pre-tokenizer: splits normalized text into the words that BPE encodes one at a time.
//
// Reference: transformers 5 `tokenization_clip.py`, pre-tokenizer Split(invert, behavior "removed") with
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// followed by ByteLevel(use_regex), which splits each piece again with GPT-2's regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// That second split only changes the two literal pieces: "<|endoftext|>" found as text becomes "<|",
// "endoftext", "|>" — yet it still stops the punctuation run, so "<|endoftext|>!!" gives "|>" and "!!".
// Both patterns are case-sensitive there (they run after lowercasing), so "'S" only splits as a
// contraction because the normalizer made it "'s", and "'ſ" is not one. Hand-written scanners rather than
// NSRegularExpression, so that the classes are exactly those of `ScalarClass`, which the tests check
// against transformers for every Unicode scalar.

enum PreTokenizer {
    /// Matched whole before anything else, as the pattern's first two alternatives. (The real special tokens
    /// were already taken out as added tokens; these only survive as text, e.g. "<|EndOfText|>" lowercased.)
    private static let literals: [[Unicode.Scalar]] = ["<|startoftext|>", "<|endoftext|>"].map {
        Array($0.unicodeScalars)
    }
    /// The contractions, in the pattern's order (leftmost alternative wins).
    private static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map {
        Array($0.unicodeScalars)
    }

    /// Calls `body` with each piece of `text` (normalized scalars), in order; whitespace is dropped.
    static func forEachPiece(in text: [Unicode.Scalar], _ body: (ArraySlice<Unicode.Scalar>) -> Void) {
        var i = 0
        let n = text.count
        scanning: while i < n {
            let scalar = text[i]
            if scalar == "<" {
                for literal in literals where hasPrefix(text, at: i, literal) {
                    splitAsGPT2(text[i..<(i + literal.count)], body)
                    i += literal.count
                    continue scanning
                }
            } else if scalar == "'", let length = contractionLength(text, at: i) {
                body(text[i..<(i + length)])
                i += length
                continue scanning
            }
            switch ScalarClass(scalar) {
            case .space:
                i += 1
            case .number:
                body(text[i...i])
                i += 1
            case .letter, .other:
                // Greedy run of one class; a run of `other` does not stop at "'" or "<" (no backtracking
                // into the earlier alternatives once the run has started).
                let end = runEnd(text, from: i)
                body(text[i..<end])
                i = end
            }
        }
    }

    /// The ByteLevel pre-tokenizer's split of one CLIP piece. Pieces hold no whitespace, so GPT-2's
    /// pattern comes down to: a contraction, else a run of letters, of numbers, or of other scalars.
    private static func splitAsGPT2(_ piece: ArraySlice<Unicode.Scalar>, _ body: (ArraySlice<Unicode.Scalar>) -> Void) {
        let text = Array(piece)
        var i = 0
        while i < text.count {
            let end = text[i] == "'" ? contractionLength(text, at: i).map { i + $0 } ?? runEnd(text, from: i)
                : runEnd(text, from: i)
            body(text[i..<end])
            i = end
        }
    }

    /// Length of the contraction ("'s", "'ll"…) starting at `start`, if one does.
    private static func contractionLength(_ text: [Unicode.Scalar], at start: Int) -> Int? {
        contractions.first { hasPrefix(text, at: start + 1, $0) }.map { 1 + $0.count }
    }

    /// End of the run of scalars of the same class as `text[start]`.
    private static func runEnd(_ text: [Unicode.Scalar], from start: Int) -> Int {
        let kind = ScalarClass(text[start])
        var end = start + 1
        while end < text.count && ScalarClass(text[end]) == kind { end += 1 }
        return end
    }

    private static func hasPrefix(_ text: [Unicode.Scalar], at start: Int, _ prefix: [Unicode.Scalar]) -> Bool {
        guard start + prefix.count <= text.count else { return false }
        for (k, scalar) in prefix.enumerated() where text[start + k] != scalar { return false }
        return true
    }
}

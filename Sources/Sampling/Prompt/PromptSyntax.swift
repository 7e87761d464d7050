// How a prompt's text is read before tokenization. A1111's syntax is the default in every API: the
// prompts users bring are written in it. "plain" takes the text literally — brackets and BREAK are
// words, every token weighs 1 — as A1111 does with its emphasis set to "None". Either way a prompt
// longer than 75 tokens is chunked (PromptChunks), never cut.

/// The prompt syntax of a request.
public enum PromptSyntax: String, Sendable, CaseIterable {
    /// `(x)`, `[x]`, `(x:1.3)`, escapes and BREAK, by A1111's rules (PromptEmphasis).
    case a1111
    /// The text as written, weight 1 throughout.
    case plain

    /// `prompt` as weighted runs.
    public func parse(_ prompt: String) throws(PromptEmphasis.InvalidWeight) -> PromptEmphasis {
        switch self {
        case .a1111: try PromptEmphasis(parsing: prompt)
        case .plain: PromptEmphasis(literal: prompt)
        }
    }
}

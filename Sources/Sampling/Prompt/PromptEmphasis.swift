// AUTOMATIC1111's emphasis syntax: a prompt split into runs of text, each with the weight its
// brackets give it, and the BREAK markers that end a 75-token chunk early. This is the syntax users'
// prompts are written in (A1111, Forge, SD.Next and most shared prompts), so the rules are A1111's
// to the letter, quirks included:
//   • `(x)` multiplies the weight of x by 1.1, `[x]` by 1 / 1.1, `(x:1.3)` by 1.3; brackets nest, and
//     the multipliers apply when a bracket closes, in closing order (so the products round as A1111's);
//   • `\(`, `\)`, `\[`, `\]`, `\\` are the literal characters; a lone `\` vanishes;
//   • an unmatched `)` or `]` is text; an unclosed `(` or `[` still weighs what follows it;
//   • `(x: 1.3)` (a space after the colon) is not a weight: the colon and the number are text, ×1.1;
//   • BREAK, as a whole word with the whitespace around it, is a marker between runs. A1111 marks it
//     with the weight −1 and multiplies that too inside brackets, where it then stops being a marker
//     (becoming the text "BREAK"); we keep that, so a prompt means here what it means there;
//   • adjacent runs of equal weight merge; an empty prompt is one empty run of weight 1.
// A weight that is not a number ("(x:1.2.3)") is an error naming it (A1111 raises on it).
// Golden test: Tests/SamplingTests/PromptEmphasisTests.swift, fixture from A1111's own parser.

/// A prompt parsed into weighted runs.
public struct PromptEmphasis: Sendable, Equatable {
    /// One run of text and its weight.
    public struct Run: Sendable, Equatable {
        public var text: String
        public var weight: Double

        public init(text: String, weight: Double) {
            self.text = text
            self.weight = weight
        }

        /// The chunk break: A1111's ("BREAK", −1) pair.
        public static let breakMarker = Run(text: "BREAK", weight: -1)
        /// True for a chunk break.
        public var isBreak: Bool { self == Self.breakMarker }
    }

    /// A weight in `(text:weight)` that is not a number.
    public struct InvalidWeight: Error, Sendable, Equatable, CustomStringConvertible {
        public let weight: String
        public var description: String { "the prompt weight \"\(weight)\" in \"(…:\(weight))\" is not a number" }
    }

    /// The runs, in prompt order.
    public let runs: [Run]

    /// The multiplier of `( )`.
    public static let roundMultiplier = 1.1
    /// The multiplier of `[ ]`.
    public static let squareMultiplier = 1 / 1.1

    /// `prompt` as one run of weight 1, brackets and all (A1111 with emphasis "None").
    public init(literal prompt: String) {
        runs = [Run(text: prompt, weight: 1)]
    }

    /// Parses `prompt` by A1111's rules (see the file header).
    public init(parsing prompt: String) throws(InvalidWeight) {
        var runs: [Run] = []
        var roundOpen: [Int] = [], squareOpen: [Int] = []
        func multiply(from start: Int, by multiplier: Double) {
            for index in start..<runs.count { runs[index].weight *= multiplier }
        }
        for token in Self.tokens(of: prompt) {
            switch token {
            case let .escaped(text):
                runs.append(Run(text: text, weight: 1))
            case .openRound:
                roundOpen.append(runs.count)
            case .openSquare:
                squareOpen.append(runs.count)
            case let .closeWithWeight(weight, _) where !roundOpen.isEmpty:
                guard let value = Self.number(weight) else { throw InvalidWeight(weight: weight) }
                multiply(from: roundOpen.removeLast(), by: value)
            case .closeRound where !roundOpen.isEmpty:
                multiply(from: roundOpen.removeLast(), by: Self.roundMultiplier)
            case .closeSquare where !squareOpen.isEmpty:
                multiply(from: squareOpen.removeLast(), by: Self.squareMultiplier)
            default:
                for (index, part) in Self.splitAtBreaks(token.text).enumerated() {
                    if index > 0 { runs.append(.breakMarker) }
                    runs.append(Run(text: part, weight: 1))
                }
            }
        }
        // Unclosed brackets apply, round ones first, each in opening order.
        for start in roundOpen { multiply(from: start, by: Self.roundMultiplier) }
        for start in squareOpen { multiply(from: start, by: Self.squareMultiplier) }
        if runs.isEmpty { runs = [Run(text: "", weight: 1)] }
        var merged: [Run] = []
        for run in runs {
            if let last = merged.last, last.weight == run.weight {
                merged[merged.count - 1].text += run.text
            } else {
                merged.append(run)
            }
        }
        self.runs = merged
    }

    // MARK: Tokens

    /// The lexical tokens of A1111's attention grammar, tried in its order at each position.
    enum Token: Equatable {
        /// `\(`, `\)`, `\[`, `\]`, `\\` (the character after the backslash) or a lone `\` (empty).
        case escaped(String)
        case openRound, openSquare
        /// `:<weight>)`, the weight being `[+-]?[.0-9]+`.
        case closeWithWeight(String, raw: String)
        case closeRound, closeSquare
        /// A run of anything but `\ ( ) [ ] :`, or a lone `:`.
        case text(String)

        /// What the token reads as when it is taken as text.
        var text: String {
            switch self {
            case let .escaped(text), let .text(text): text
            case .openRound: "("
            case .openSquare: "["
            case let .closeWithWeight(_, raw): raw
            case .closeRound: ")"
            case .closeSquare: "]"
            }
        }
    }

    /// The tokens of `prompt`, read by Unicode scalars (Python's code points), not by Swift's
    /// grapheme clusters: a combining mark after "(" must not hide the bracket.
    static func tokens(of prompt: String) -> [Token] {
        let scalars = Array(prompt.unicodeScalars)
        func string(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[range])) }
        func isDigitOrDot(_ s: Unicode.Scalar) -> Bool { s == "." || ("0"..."9").contains(s) }
        let special: Set<Unicode.Scalar> = ["\\", "(", ")", "[", "]", ":"]
        var tokens: [Token] = []
        var index = 0
        while index < scalars.count {
            switch scalars[index] {
            case "\\":
                if index + 1 < scalars.count, "()[]\\".unicodeScalars.contains(scalars[index + 1]) {
                    tokens.append(.escaped(string((index + 1)..<(index + 2))))
                    index += 2
                } else {
                    tokens.append(.escaped(""))
                    index += 1
                }
            case "(": tokens.append(.openRound); index += 1
            case "[": tokens.append(.openSquare); index += 1
            case ")": tokens.append(.closeRound); index += 1
            case "]": tokens.append(.closeSquare); index += 1
            case ":":
                // `:` [+-]? [.0-9]+ `)`: the weight's characters run as far as they go, then `)` must follow.
                var end = index + 1
                if end < scalars.count, scalars[end] == "+" || scalars[end] == "-" { end += 1 }
                let digitsStart = end
                while end < scalars.count, isDigitOrDot(scalars[end]) { end += 1 }
                if end > digitsStart, end < scalars.count, scalars[end] == ")" {
                    tokens.append(.closeWithWeight(string((index + 1)..<end), raw: string(index..<(end + 1))))
                    index = end + 1
                } else {
                    tokens.append(.text(":"))
                    index += 1
                }
            default:
                var end = index
                while end < scalars.count, !special.contains(scalars[end]) { end += 1 }
                tokens.append(.text(string(index..<end)))
                index = end
            }
        }
        return tokens
    }

    /// Python's float() of `[+-]?[.0-9]+`: nil for "." or "1.2.3".
    static func number(_ text: String) -> Double? {
        let unsigned = text.first == "+" || text.first == "-" ? text.dropFirst() : Substring(text)
        guard unsigned.filter({ $0 == "." }).count <= 1, unsigned.contains(where: { ("0"..."9").contains($0) }) else { return nil }
        return Double(text)
    }

    /// `text` split at BREAK, the whole word with the whitespace on both sides (A1111's
    /// `\s*\bBREAK\b\s*`, with Python's Unicode classes: a word character is a letter, a number or
    /// "_"; whitespace is what str.isspace() accepts).
    static func splitAtBreaks(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        func string(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[range])) }
        func isWord(_ s: Unicode.Scalar) -> Bool {
            s == "_" || s.properties.numericType != nil
                || [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter].contains(s.properties.generalCategory)
        }
        func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace || (0x1C...0x1F).contains(s.value) }
        let word = Array("BREAK".unicodeScalars)
        var parts: [String] = []
        var partStart = 0, index = 0
        while index + word.count <= scalars.count {
            let fits = Array(scalars[index..<(index + word.count)]) == word
                && (index == 0 || !isWord(scalars[index - 1]))
                && (index + word.count == scalars.count || !isWord(scalars[index + word.count]))
            guard fits else { index += 1; continue }
            var start = index
            while start > partStart, isSpace(scalars[start - 1]) { start -= 1 }
            var end = index + word.count
            while end < scalars.count, isSpace(scalars[end]) { end += 1 }
            parts.append(string(partStart..<start))
            partStart = end
            index = end
        }
        parts.append(string(partStart..<scalars.count))
        return parts
    }
}

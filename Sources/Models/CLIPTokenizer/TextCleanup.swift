// The text clean-up of transformers' CLIPTokenizer, and the scalar classes its regexes use.
//
// Reference: transformers 5 `models/clip/tokenization_clip.py`, whose `tokenizers` normalizer is
// Sequence[NFC, Replace(Regex(`\s+`), " "), Lowercase]. That is what diffusers' StableDiffusionPipeline gets
// after `pip install diffusers transformers` (transformers 5): its `CLIPTokenizer` is the `tokenizers`-backed
// one, with no ftfy step. (transformers 4's Python CLIPTokenizer ran `ftfy.fix_text` only when ftfy happened
// to be installed, and BERT's BasicTokenizer otherwise; neither package depends on ftfy.) HTML entities
// such as "&amp;" stay as written: open_clip unescapes them, transformers never did.
import Foundation

/// How the CLIP regexes (Oniguruma, as `tokenizers` compiles them) see one scalar.
enum ScalarClass: Equatable, Sendable {
    /// `\s`: removed by the pre-tokenizer, collapsed to one space by the normalizer.
    case space
    /// `\p{L}`: letters, matched in runs.
    case letter
    /// `\p{N}`: numbers, each its own token.
    case number
    /// Everything else (punctuation, symbols, marks, controls, emoji): matched in runs.
    case other

    init(_ scalar: Unicode.Scalar) {
        // ASCII first: almost every prompt is mostly ASCII.
        let v = scalar.value
        if v < 0x80 {
            switch v {
            case 0x61...0x7A, 0x41...0x5A: self = .letter
            case 0x30...0x39: self = .number
            case 0x09...0x0D, 0x20: self = .space
            default: self = .other
            }
            return
        }
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            self = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            self = .number
        // Oniguruma's Unicode `\s` is U+0009–U+000D, U+0085 and the Z categories — not the White_Space
        // property, though the two sets coincide today.
        case .spaceSeparator, .lineSeparator, .paragraphSeparator:
            self = .space
        default:
            self = v == 0x85 ? .space : .other
            return
        }
        // A scalar newer than the reference's tables is unassigned there, so neither letter nor number.
        if let age = properties.age, (age.major, age.minor) > Self.referenceUnicodeVersion { self = .other }
    }

    /// The Unicode version of the tables the reference matches with: Oniguruma as built into `tokenizers`
    /// 0.23 knows Unicode 16.0, while Swift 6.3 knows 17.0. Without this, the 4657 letters and numbers that
    /// Unicode 17 added (CJK extension J, new scripts) would be split differently from transformers.
    static let referenceUnicodeVersion = (major: 16, minor: 0)
}

/// The normalizer: NFC, every run of `\s` to one space, then per-scalar lowercase.
enum TextCleanup {
    /// The normalized scalars of `text` (one segment between added tokens, as `tokenizers` normalizes them).
    static func normalize(_ text: String) -> [Unicode.Scalar] {
        // ASCII is already in NFC; skipping Foundation there keeps the common prompt cheap.
        let composed = text.utf8.allSatisfy { $0 < 0x80 } ? text : text.precomposedStringWithCanonicalMapping
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(composed.utf8.count)
        var inSpace = false
        for scalar in composed.unicodeScalars {
            if ScalarClass(scalar) == .space {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            appendLowercase(scalar, to: &out)
        }
        return out
    }

    /// Lowercases one scalar as Rust's `char::to_lowercase` does (what `tokenizers`' Lowercase calls): the
    /// full, context-free mapping — "İ" becomes "i̇" (two scalars), and a final "Σ" becomes "σ", not "ς".
    @inline(__always)
    static func appendLowercase(_ scalar: Unicode.Scalar, to out: inout [Unicode.Scalar]) {
        let v = scalar.value
        if v < 0x80 {
            out.append(v >= 0x41 && v <= 0x5A ? Unicode.Scalar(v + 0x20)! : scalar)
            return
        }
        let properties = scalar.properties
        guard properties.changesWhenLowercased else {
            out.append(scalar)
            return
        }
        out.append(contentsOf: properties.lowercaseMapping.unicodeScalars)
    }
}

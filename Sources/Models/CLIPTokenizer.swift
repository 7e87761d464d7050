// CLIPTokenizer: prompt text → the 77 token ids the SD 1.x text encoder reads, and back.
//
// Reference: transformers 5 `CLIPTokenizer` (`models/clip/tokenization_clip.py`, backed by `tokenizers`), as
// diffusers' StableDiffusionPipeline calls it: `tokenizer(prompt, padding="max_length", max_length=77,
// truncation=True)`. The steps live in CLIPTokenizer/: added tokens (AddedTokens.swift) → clean-up
// (TextCleanup.swift) → pre-tokenizer (PreTokenizer.swift) → byte-level BPE (ByteLevelBPE.swift), with a word
// cache (WordCache.swift); the files are read by TokenizerFiles.swift. Tests/Fixtures/make_tokenizer_fixtures.py
// exports transformers' ids for the tests to compare against.
import Foundation

/// The CLIP byte-level BPE tokenizer of Stable Diffusion 1.x, giving the ids transformers' `CLIPTokenizer` gives.
///
/// Load it from a model's `tokenizer/` folder (`init(directory:)`), or use the vocabulary bundled with the
/// package (`standard()`) for single-file checkpoints, which carry none. A tokenizer is immutable and can be
/// shared between threads; it caches the BPE result of each word it has seen (bounded).
public struct CLIPTokenizer: Sendable {
    /// CLIP's context: `<|startoftext|>`, 75 prompt tokens, `<|endoftext|>`.
    public static let contextLength = 77

    /// Id of the token that starts every sequence (`<|startoftext|>`, 49406 in CLIP's vocabulary).
    public let bosTokenID: Int
    /// Id of the token that ends the prompt (`<|endoftext|>`, 49407).
    public let eosTokenID: Int
    /// Id that fills the sequence after the prompt: `<|endoftext|>` in SD 1.x; the tokenizer config may name
    /// another (SD 2.x pads with "!", id 0).
    public let padTokenID: Int
    /// Number of ids: the BPE vocabulary and the added tokens.
    public let vocabularySize: Int

    private let bpe: ByteLevelBPE
    /// Added tokens matched in the raw text, and those matched after normalization.
    private let rawTokens: AddedTokenMatcher
    private let normalizedTokens: AddedTokenMatcher
    /// id → token, for decoding.
    private let tokens: [Int: String]
    private let specialIDs: Set<Int>
    private let endOfWordSuffix: [UInt8]
    private let cache = WordCache(capacity: 16_384)

    // MARK: Loading

    /// Reads `vocab.json` and `merges.txt` (the files of SD 1.x `tokenizer/` folders), and the
    /// `tokenizer_config.json` / `special_tokens_map.json` beside `vocab.json` if they exist.
    public init(vocabularyURL: URL, mergesURL: URL) throws(CLIPTokenizerError) {
        try self.init(TokenizerDefinition.read(
            vocabulary: vocabularyURL, merges: mergesURL, configDirectory: vocabularyURL.deletingLastPathComponent()))
    }

    /// Reads a `tokenizer.json` (all that transformers 5 saves), and the `tokenizer_config.json` /
    /// `special_tokens_map.json` beside it if they exist.
    public init(tokenizerJSON: URL) throws(CLIPTokenizerError) {
        try self.init(TokenizerDefinition.read(
            tokenizerJSON: tokenizerJSON, configDirectory: tokenizerJSON.deletingLastPathComponent()))
    }

    /// Reads the tokenizer in `directory`: `tokenizer.json` if it exists (as transformers prefers it), else
    /// `vocab.json` + `merges.txt`. `directory` may also be a diffusers model folder with a `tokenizer/` inside.
    public init(directory: URL) throws(CLIPTokenizerError) {
        let files = FileManager.default
        func has(_ folder: URL, _ name: String) -> Bool {
            files.fileExists(atPath: folder.appendingPathComponent(name).path)
        }
        var folder = directory
        var isDirectory: ObjCBool = false
        guard files.fileExists(atPath: directory.path, isDirectory: &isDirectory) else { throw .missingFile(directory) }
        guard isDirectory.boolValue else { throw .noTokenizerFiles(directory: directory) }
        if !has(folder, "tokenizer.json") && !has(folder, "vocab.json") && has(folder, "tokenizer") {
            folder = folder.appendingPathComponent("tokenizer")
        }
        if has(folder, "tokenizer.json") {
            try self.init(tokenizerJSON: folder.appendingPathComponent("tokenizer.json"))
        } else if has(folder, "vocab.json") {
            try self.init(vocabularyURL: folder.appendingPathComponent("vocab.json"),
                          mergesURL: folder.appendingPathComponent("merges.txt"))
        } else {
            throw .noTokenizerFiles(directory: directory)
        }
    }

    /// The tokenizer of every SD 1.x model (OpenAI CLIP ViT-L/14's), bundled with the package; loaded once.
    public static func standard() throws(CLIPTokenizerError) -> CLIPTokenizer {
        try bundled.get()
    }

    private static let bundled: Result<CLIPTokenizer, CLIPTokenizerError> = {
        guard let folder = Bundle.module.url(forResource: "clip-vocabulary", withExtension: nil) else {
            return .failure(.missingBundledVocabulary)
        }
        return Result { () throws(CLIPTokenizerError) in try CLIPTokenizer(directory: folder) }
    }()

    private init(_ definition: TokenizerDefinition) throws(CLIPTokenizerError) {
        func id(of content: String) -> Int? {
            definition.addedTokens.first { $0.content == content }?.id ?? definition.vocabulary[content]
        }
        // `assemble` checked that these three have ids.
        bosTokenID = id(of: definition.bosToken)!
        eosTokenID = id(of: definition.eosToken)!
        padTokenID = id(of: definition.padToken)!
        do {
            bpe = try ByteLevelBPE(
                vocabulary: definition.vocabulary, merges: definition.merges,
                endOfWordSuffix: definition.endOfWordSuffix, unknownID: id(of: definition.unknownToken) ?? eosTokenID)
        } catch {
            throw .malformedMerges(definition.mergesFile, line: error.index + definition.firstMergeLine,
                                   reason: error.reason)
        }
        rawTokens = AddedTokenMatcher(definition.addedTokens.filter { !$0.normalized })
        normalizedTokens = AddedTokenMatcher(definition.addedTokens.filter(\.normalized))
        var tokens: [Int: String] = [:]
        tokens.reserveCapacity(definition.vocabulary.count + definition.addedTokens.count)
        for (token, id) in definition.vocabulary { tokens[id] = token }
        for token in definition.addedTokens { tokens[token.id] = token.content }
        self.tokens = tokens
        vocabularySize = tokens.count
        specialIDs = Set(definition.addedTokens.filter(\.special).map(\.id))
        endOfWordSuffix = Array(definition.endOfWordSuffix.utf8)
    }

    // MARK: Encoding

    /// The ids of `text` without `<|startoftext|>` / `<|endoftext|>` around them and without truncation
    /// (transformers' `encode(text, add_special_tokens=False)`). Special tokens written in the text are kept.
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        rawTokens.split(Array(text.unicodeScalars)) { segment in
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let raw):
                let normalized = TextCleanup.normalize(String(String.UnicodeScalarView(raw)))
                normalizedTokens.split(normalized) { inner in
                    switch inner {
                    case .token(let id): ids.append(id)
                    case .text(let text): appendWords(of: Array(text), to: &ids)
                    }
                }
            }
        }
        return ids
    }

    private func appendWords(of text: [Unicode.Scalar], to ids: inout [Int]) {
        var word: [UInt8] = []
        PreTokenizer.forEachPiece(in: text) { piece in
            word.removeAll(keepingCapacity: true)
            for scalar in piece { UTF8.encode(scalar) { word.append($0) } }
            for id in cache.ids(for: word, compute: bpe.encode(word:)) { ids.append(Int(id)) }
        }
    }

    /// The text-encoder input for `prompt`, as diffusers builds it: `<|startoftext|>`, at most `length − 2`
    /// prompt tokens, `<|endoftext|>`, then the pad token up to `length`. Tokens past the room are dropped
    /// (diffusers logs them as a warning); the result says how many and which.
    public func tokenize(_ prompt: String, length: Int = CLIPTokenizer.contextLength) -> TokenizedPrompt {
        precondition(length >= 2, "a tokenized prompt needs room for <|startoftext|> and <|endoftext|>")
        let content = encode(prompt)
        let room = length - 2
        let kept = content.prefix(room)
        let dropped = content.dropFirst(room)
        var ids = [bosTokenID]
        ids.reserveCapacity(length)
        ids += kept
        ids.append(eosTokenID)
        ids += repeatElement(padTokenID, count: length - ids.count)
        return TokenizedPrompt(
            ids: ids, endOfTextIndex: kept.count + 1, droppedTokenCount: dropped.count,
            droppedText: dropped.isEmpty ? "" : decode(Array(dropped)))
    }

    // MARK: Decoding

    /// The text of `ids`, as transformers' `decode`: byte-level tokens back to UTF-8 (malformed sequences,
    /// e.g. from a cut in the middle of a character, become U+FFFD), each end of word as one space, and
    /// whitespace trimmed at both ends. Ids the tokenizer does not know are skipped.
    public func decode(_ ids: [Int], skippingSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            if skippingSpecialTokens && specialIDs.contains(id) { continue }
            guard let token = tokens[id] else { continue }
            bytes += ByteLevel.decode(token: token)
        }
        // Replacing "</w>" before the UTF-8 repair is the same as after it: ASCII bytes never belong to a
        // malformed sequence.
        if !endOfWordSuffix.isEmpty { bytes = replacing(endOfWordSuffix, in: bytes, with: 0x20) }
        let text = String(decoding: bytes, as: UTF8.self).unicodeScalars
        // Python's str.strip(): its whitespace is White_Space plus the separators U+001C–U+001F.
        func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace || (0x1C...0x1F).contains(s.value) }
        guard let first = text.firstIndex(where: { !isSpace($0) }),
              let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(text[first...last])
    }

    private func replacing(_ pattern: [UInt8], in bytes: [UInt8], with replacement: UInt8) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == pattern[0] && bytes[i...].starts(with: pattern) {
                out.append(replacement)
                i += pattern.count
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }
}

/// A prompt ready for the text encoder, and what truncation took from it.
public struct TokenizedPrompt: Sendable, Equatable {
    /// `length` ids: `<|startoftext|>`, the prompt's tokens, `<|endoftext|>`, padding.
    public let ids: [Int]
    /// Position of the `<|endoftext|>` that closes the prompt (CLIP's pooled output is read there).
    public let endOfTextIndex: Int
    /// How many of the prompt's tokens did not fit (0 when nothing was cut).
    public let droppedTokenCount: Int
    /// The text of the dropped tokens, as diffusers' truncation warning shows it ("" when nothing was cut).
    public let droppedText: String

    /// True when the prompt was cut to fit.
    public var isTruncated: Bool { droppedTokenCount > 0 }
}

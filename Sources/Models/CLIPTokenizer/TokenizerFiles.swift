// Reading a CLIP tokenizer from disk: vocab.json + merges.txt (SD 1.x folders), or tokenizer.json
// (transformers 5 writes only that), plus tokenizer_config.json / special_tokens_map.json when present.
//
// Reference: transformers 5 `tokenization_utils_base.py` (`_from_pretrained`) and
// `tokenization_utils_tokenizers.py` (`_post_init`) for which file says what about the special tokens;
// `tokenizers`' serialization for the tokenizer.json layout (merges as "a b" strings or, since
// tokenizers 0.20, as ["a", "b"] pairs).
import Foundation

/// Why a tokenizer could not be loaded. Every case names the file (or folder) at fault.
public enum CLIPTokenizerError: Error, Equatable, CustomStringConvertible {
    /// A file the tokenizer needs does not exist.
    case missingFile(URL)
    /// The file exists but could not be read.
    case unreadableFile(URL, reason: String)
    /// The file is not valid JSON, or not JSON of the expected shape.
    case malformedJSON(URL, reason: String)
    /// The vocabulary is unusable: no tokens, duplicate ids, a required token missing…
    case malformedVocabulary(URL, reason: String)
    /// A merge rule is malformed or names tokens the vocabulary lacks (`line` counts from 1 in merges.txt;
    /// in tokenizer.json it is the rule's position in `model.merges`, from 1).
    case malformedMerges(URL, line: Int, reason: String)
    /// A tokenizer.json for a model this tokenizer does not implement (not byte-level BPE).
    case unsupportedTokenizer(URL, reason: String)
    /// A folder with neither tokenizer.json nor vocab.json + merges.txt (nor a `tokenizer/` folder holding them).
    case noTokenizerFiles(directory: URL)
    /// The vocabulary that ships with the package is not in its resource bundle.
    case missingBundledVocabulary

    public var description: String {
        switch self {
        case .missingFile(let url): "tokenizer file \(url.path) does not exist"
        case .unreadableFile(let url, let reason): "cannot read tokenizer file \(url.path): \(reason)"
        case .malformedJSON(let url, let reason): "\(url.path) is not a valid tokenizer file: \(reason)"
        case .malformedVocabulary(let url, let reason): "bad vocabulary in \(url.path): \(reason)"
        case .malformedMerges(let url, let line, let reason): "bad merge rule \(line) in \(url.path): \(reason)"
        case .unsupportedTokenizer(let url, let reason): "\(url.path) is not a CLIP tokenizer: \(reason)"
        case .noTokenizerFiles(let directory):
            "\(directory.path) holds neither tokenizer.json nor vocab.json + merges.txt"
        case .missingBundledVocabulary: "the bundled CLIP vocabulary (clip-vocabulary) is missing from the package"
        }
    }
}

/// Everything a tokenizer's files say, before the merge table is built.
struct TokenizerDefinition {
    var vocabulary: [String: Int]
    var merges: [(String, String)]
    /// Where the merges came from, and the line number of merge 0 there (for error messages).
    var mergesFile: URL
    var firstMergeLine: Int
    var endOfWordSuffix = "</w>"
    var unknownToken = "<|endoftext|>"
    var addedTokens: [AddedToken]
    var bosToken: String
    var eosToken: String
    var padToken: String
}

// MARK: - The two file layouts

extension TokenizerDefinition {
    /// vocab.json + merges.txt, with the config files of `configDirectory` (if any).
    static func read(vocabulary vocabularyURL: URL, merges mergesURL: URL, configDirectory: URL) throws(CLIPTokenizerError)
        -> TokenizerDefinition
    {
        let vocabulary = try decodeJSON([String: Int].self, from: vocabularyURL)
        let text = String(decoding: try contents(of: mergesURL), as: UTF8.self)
        var merges: [(String, String)] = []
        merges.reserveCapacity(50_000)
        var firstMergeLine = 1
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            // The header ("#version: 0.2"), like tokenizers, is skipped only as the first line.
            if index == 0 && line.hasPrefix("#version") {
                firstMergeLine = 2
                continue
            }
            let rule = line.hasSuffix("\r") ? line.dropLast() : line[...]
            if rule.isEmpty { continue }  // the trailing newline
            let parts = rule.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw .malformedMerges(mergesURL, line: index + 1, reason: "expected two tokens separated by one space")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        let config = try SpecialTokenConfiguration(directory: configDirectory)
        return try assemble(vocabulary: vocabulary, vocabularyFile: vocabularyURL, merges: merges,
                            mergesFile: mergesURL, firstMergeLine: firstMergeLine, explicit: [], config: config)
    }

    /// tokenizer.json, with the config files of `configDirectory` (if any).
    static func read(tokenizerJSON url: URL, configDirectory: URL) throws(CLIPTokenizerError) -> TokenizerDefinition {
        let file = try decodeJSON(TokenizerJSONFile.self, from: url)
        let model = file.model
        if let type = model.type, type != "BPE" {
            throw .unsupportedTokenizer(url, reason: "model type is \(type), not BPE")
        }
        if let prefix = model.continuingSubwordPrefix, !prefix.isEmpty {
            throw .unsupportedTokenizer(url, reason: "continuing_subword_prefix '\(prefix)' (CLIP has none)")
        }
        let explicit = (file.addedTokens ?? []).map {
            AddedToken(content: $0.content, id: $0.id, normalized: $0.normalized ?? !($0.special ?? false),
                       special: $0.special ?? false)
        }
        let config = try SpecialTokenConfiguration(directory: configDirectory)
        var definition = try assemble(vocabulary: model.vocab, vocabularyFile: url, merges: model.merges.rules,
                                      mergesFile: url, firstMergeLine: 1, explicit: explicit, config: config)
        definition.endOfWordSuffix = model.endOfWordSuffix ?? ""
        if let unknown = model.unkToken { definition.unknownToken = unknown }
        return definition
    }

    /// Resolves which added tokens exist and how they match, the way transformers 5 ends up with them:
    /// the explicit lists (tokenizer.json's `added_tokens`, tokenizer_config.json's `added_tokens_decoder`)
    /// are kept as written; a named special token (bos, eos, unk, sep, pad, cls, mask — in that order)
    /// not among them is added, and when several names share a content the last one's `normalized` wins.
    /// So SD 1.x's config (bos and eos as `normalized: true` objects, pad as a plain string) matches
    /// `<|startoftext|>` after lowercasing but `<|endoftext|>` only as written — as transformers does.
    private static func assemble(
        vocabulary: [String: Int], vocabularyFile: URL, merges: [(String, String)], mergesFile: URL,
        firstMergeLine: Int, explicit: [AddedToken], config: SpecialTokenConfiguration
    ) throws(CLIPTokenizerError) -> TokenizerDefinition {
        guard !vocabulary.isEmpty else { throw .malformedVocabulary(vocabularyFile, reason: "no tokens") }
        if let negative = vocabulary.first(where: { $0.value < 0 }) {
            throw .malformedVocabulary(vocabularyFile, reason: "token '\(negative.key)' has negative id \(negative.value)")
        }
        var added: [AddedToken] = []
        for token in explicit + config.addedTokensDecoder where !added.contains(where: { $0.content == token.content }) {
            // Content the vocabulary already has keeps the vocabulary's id (tokenizers' `add_tokens`).
            added.append(AddedToken(content: token.content, id: vocabulary[token.content] ?? token.id,
                                    normalized: token.normalized, special: token.special))
        }
        var nextID = max(vocabulary.values.max() ?? -1, added.map(\.id).max() ?? -1) + 1
        var named: [(content: String, normalized: Bool)] = []
        for entry in config.namedTokens {
            if let k = named.firstIndex(where: { $0.content == entry.content }) {
                named[k].normalized = entry.normalized
            } else {
                named.append(entry)
            }
        }
        for (content, normalized) in named where !added.contains(where: { $0.content == content }) {
            // A special token missing from the vocabulary gets the next id, as transformers gives it.
            let id = vocabulary[content] ?? nextID
            if id == nextID { nextID += 1 }
            added.append(AddedToken(content: content, id: id, normalized: normalized, special: true))
        }
        for token in [config.bos, config.eos, config.pad]
        where vocabulary[token] == nil && !added.contains(where: { $0.content == token }) {
            throw .malformedVocabulary(vocabularyFile, reason: "no id for the special token '\(token)'")
        }
        return TokenizerDefinition(
            vocabulary: vocabulary, merges: merges, mergesFile: mergesFile, firstMergeLine: firstMergeLine,
            addedTokens: added, bosToken: config.bos, eosToken: config.eos, padToken: config.pad)
    }
}

// MARK: - tokenizer_config.json and special_tokens_map.json

/// The special tokens as the two small config files name them.
struct SpecialTokenConfiguration {
    /// (content, normalized) of bos, eos, unk, sep, pad, cls, mask — those that are set, in that order.
    var namedTokens: [(content: String, normalized: Bool)] = []
    /// tokenizer_config.json's `added_tokens_decoder` (transformers ≥ 4.34).
    var addedTokensDecoder: [AddedToken] = []
    var bos = "<|startoftext|>"
    var eos = "<|endoftext|>"
    var pad = "<|endoftext|>"

    private static let names = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]
    /// transformers' CLIPTokenizer defaults, for names neither file sets; plain strings, so not normalized.
    private static let defaults = ["bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                                   "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"]

    init(directory: URL) throws(CLIPTokenizerError) {
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        let mapURL = directory.appendingPathComponent("special_tokens_map.json")
        let config = try Self.optional(ConfigFile.self, at: configURL)
        var values = config?.specialTokens ?? [:]
        if let decoder = config?.addedTokensDecoder {
            for (key, token) in decoder {
                guard let id = Int(key) else {
                    throw .malformedJSON(configURL, reason: "added_tokens_decoder key '\(key)' is not an id")
                }
                addedTokensDecoder.append(AddedToken(
                    content: token.content, id: id, normalized: token.normalized ?? !(token.special ?? false),
                    special: token.special ?? false))
            }
            addedTokensDecoder.sort { $0.id < $1.id }
        } else if let map = try Self.optional(ConfigFile.self, at: mapURL) {
            // Without added_tokens_decoder, transformers lets special_tokens_map.json override the config.
            values.merge(map.specialTokens) { _, fromMap in fromMap }
        }
        for name in Self.names {
            if let value = values[name] {
                namedTokens.append((value.content, value.normalized))
            } else if let content = Self.defaults[name] {
                namedTokens.append((content, false))
            }
        }
        bos = values["bos_token"]?.content ?? bos
        eos = values["eos_token"]?.content ?? eos
        pad = values["pad_token"]?.content ?? pad
    }

    private static func optional<T: Decodable>(_ type: T.Type, at url: URL) throws(CLIPTokenizerError) -> T? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try decodeJSON(type, from: url)
    }

    /// The keys of tokenizer_config.json / special_tokens_map.json that matter here; others are ignored
    /// (model_max_length, for one, can be 1e30 and is not an Int).
    private struct ConfigFile: Decodable {
        var specialTokens: [String: TokenValue] = [:]
        var addedTokensDecoder: [String: TokenObject]?

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            for name in SpecialTokenConfiguration.names {
                let key = AnyKey(name)
                guard container.contains(key), try !container.decodeNil(forKey: key) else { continue }
                specialTokens[name] = try container.decode(TokenValue.self, forKey: key)
            }
            addedTokensDecoder = try container.decodeIfPresent([String: TokenObject].self, forKey: AnyKey("added_tokens_decoder"))
        }
    }

    /// A special token written as a plain string (never normalized) or as an AddedToken object.
    private struct TokenValue: Decodable {
        var content: String
        var normalized: Bool

        init(from decoder: Decoder) throws {
            if let string = try? decoder.singleValueContainer().decode(String.self) {
                content = string
                normalized = false
            } else {
                let object = try TokenObject(from: decoder)
                content = object.content
                // transformers' AddedToken defaults `normalized` to `not special`, and these are special.
                normalized = object.normalized ?? false
            }
        }
    }
}

/// An AddedToken as serialized by transformers and tokenizers.
private struct TokenObject: Decodable {
    var content: String
    var normalized: Bool?
    var special: Bool?
}

// MARK: - tokenizer.json

private struct TokenizerJSONFile: Decodable {
    struct Model: Decodable {
        var type: String?
        var vocab: [String: Int]
        var merges: Merges
        var endOfWordSuffix: String?
        var continuingSubwordPrefix: String?
        var unkToken: String?

        enum CodingKeys: String, CodingKey {
            case type, vocab, merges
            case endOfWordSuffix = "end_of_word_suffix"
            case continuingSubwordPrefix = "continuing_subword_prefix"
            case unkToken = "unk_token"
        }
    }

    /// Merges as "a b" strings (tokenizers < 0.20) or as ["a", "b"] pairs.
    struct Merges: Decodable {
        var rules: [(String, String)]

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let pairs = try? container.decode([[String]].self) {
                rules = try pairs.enumerated().map { index, pair in
                    guard pair.count == 2 else {
                        throw DecodingError.dataCorruptedError(
                            in: container, debugDescription: "merge \(index + 1) has \(pair.count) parts, not 2")
                    }
                    return (pair[0], pair[1])
                }
            } else {
                rules = try container.decode([String].self).enumerated().map { index, line in
                    let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                    guard parts.count == 2 else {
                        throw DecodingError.dataCorruptedError(
                            in: container, debugDescription: "merge \(index + 1) '\(line)' is not 'a b'")
                    }
                    return (String(parts[0]), String(parts[1]))
                }
            }
        }
    }

    struct Added: Decodable {
        var id: Int
        var content: String
        var normalized: Bool?
        var special: Bool?
    }

    var model: Model
    var addedTokens: [Added]?

    enum CodingKeys: String, CodingKey {
        case model
        case addedTokens = "added_tokens"
    }
}

// MARK: - File access

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private func contents(of url: URL) throws(CLIPTokenizerError) -> Data {
    guard FileManager.default.fileExists(atPath: url.path) else { throw .missingFile(url) }
    do {
        return try Data(contentsOf: url, options: .mappedIfSafe)
    } catch {
        throw .unreadableFile(url, reason: error.localizedDescription)
    }
}

private func decodeJSON<T: Decodable>(_ type: T.Type, from url: URL) throws(CLIPTokenizerError) -> T {
    let data = try contents(of: url)
    do {
        return try JSONDecoder().decode(type, from: data)
    } catch let error as DecodingError {
        throw .malformedJSON(url, reason: describe(error))
    } catch {
        throw .malformedJSON(url, reason: "\(error)")
    }
}

/// A one-line account of a decoding error: what was wrong, and where in the JSON.
private func describe(_ error: DecodingError) -> String {
    func path(_ codingPath: [CodingKey]) -> String {
        codingPath.isEmpty ? "the top level" : codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            .joined(separator: ".")
    }
    switch error {
    case .typeMismatch(let type, let context): return "expected \(type) at \(path(context.codingPath))"
    case .valueNotFound(let type, let context): return "missing \(type) at \(path(context.codingPath))"
    case .keyNotFound(let key, let context):
        return "missing key '\(key.stringValue)' in \(path(context.codingPath))"
    case .dataCorrupted(let context):
        return context.codingPath.isEmpty ? "not JSON (\(context.debugDescription))"
            : "\(context.debugDescription) at \(path(context.codingPath))"
    @unknown default: return "\(error)"
    }
}

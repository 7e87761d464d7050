// CLIPTokenizer against transformers' CLIPTokenizer: ids, truncation, decoding and per-scalar clean-up,
// from the golden corpus written by Tests/Fixtures/make_tokenizer_fixtures.py; and the loader's errors.
// Ids are integers: every comparison is exact.
import Foundation
import Testing
import TestSupport
@testable import Models

// MARK: - The golden corpus

/// Tests/Fixtures/tokenizer_corpus.json.
struct TokenizerCorpus: Decodable {
    struct Prompt: Decodable {
        var text: String
        /// 77 ids, as diffusers asks for them (padding to max_length, truncation).
        var input_ids: [Int]
        /// Untruncated, with <|startoftext|> and <|endoftext|>.
        var ids: [Int]
        /// transformers' decode of ids without the first and last.
        var decoded: String
        /// diffusers' warning text for the truncated part.
        var dropped_text: String
    }
    struct VariantPrompt: Decodable {
        var text: String
        var input_ids: [Int]
        var ids: [Int]
        var decoded: String
        var decoded_skipping_special: String
    }
    struct Variant: Decodable {
        /// File name → its text, written beside the bundled vocab.json and merges.txt.
        var files: [String: String]
        var pad_token_id: Int
        var prompts: [VariantPrompt]
    }
    /// [first, last, class] runs over all scalars; class s, L, N or o.
    struct ScalarRun: Decodable {
        var first: UInt32, last: UInt32, kind: String
        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            first = try c.decode(UInt32.self)
            last = try c.decode(UInt32.self)
            kind = try c.decode(String.self)
        }
    }

    var transformers: String
    var length: Int
    var prompts: [Prompt]
    var variants: [String: Variant]
    var scalar_classes: [ScalarRun]
    /// Scalar value (decimal) → its normalization, for the scalars that normalization changes.
    var scalar_normalization: [String: String]

    static let shared: TokenizerCorpus = {
        let url = Fixtures.directory.appendingPathComponent("tokenizer_corpus.json")
        do {
            return try JSONDecoder().decode(TokenizerCorpus.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot read \(url.path): \(error)")
        }
    }()
}

/// The vocabulary files in the source tree (the same files `standard()` reads from the bundle).
let sourceVocabulary = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Sources/Models/Resources/clip-vocabulary")

/// A fresh temporary folder, removed by the caller.
func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("clip-tokenizer-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Compares every corpus prompt; returns the failures as readable lines (so one bad prompt does not
/// hide the others, and the report shows the text).
func corpusMismatches(_ tokenizer: CLIPTokenizer) -> [String] {
    let corpus = TokenizerCorpus.shared
    var failures: [String] = []
    for prompt in corpus.prompts {
        let tokenized = tokenizer.tokenize(prompt.text, length: corpus.length)
        let content = Array(prompt.ids.dropFirst().dropLast())
        let encoded = tokenizer.encode(prompt.text)
        if tokenized.ids != prompt.input_ids {
            failures.append("input_ids of \(prompt.text.debugDescription): \(tokenized.ids) ≠ \(prompt.input_ids)")
        }
        if encoded != content {
            failures.append("ids of \(prompt.text.debugDescription): \(encoded) ≠ \(content)")
        }
        let expectedDropped = max(0, content.count - (corpus.length - 2))
        if tokenized.droppedTokenCount != expectedDropped || tokenized.droppedText != prompt.dropped_text {
            failures.append("""
                truncation of \(prompt.text.debugDescription): \(tokenized.droppedTokenCount) \
                \(tokenized.droppedText.debugDescription) ≠ \(expectedDropped) \(prompt.dropped_text.debugDescription)
                """)
        }
        let decoded = tokenizer.decode(content)
        if decoded != prompt.decoded {
            failures.append("decode of \(prompt.text.debugDescription): \(decoded.debugDescription) ≠ \(prompt.decoded.debugDescription)")
        }
    }
    return failures
}

@Suite("CLIPTokenizer")
struct CLIPTokenizerTests {
    @Test func corpusIsLargeAndVaried() {
        let prompts = TokenizerCorpus.shared.prompts
        #expect(prompts.count >= 200)
        #expect(prompts.contains { $0.ids.count > 77 })
        #expect(prompts.contains { $0.text.isEmpty })
        #expect(prompts.contains { $0.text.unicodeScalars.contains { $0.properties.isEmoji && $0.value > 0x2000 } })
    }

    @Test func matchesTransformersFromVocabularyAndMerges() throws {
        let tokenizer = try CLIPTokenizer(
            vocabularyURL: sourceVocabulary.appendingPathComponent("vocab.json"),
            mergesURL: sourceVocabulary.appendingPathComponent("merges.txt"))
        let failures = corpusMismatches(tokenizer)
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.prefix(20).joined(separator: "\n"))")
    }

    @Test func matchesTransformersFromTokenizerJSON() throws {
        let file = Fixtures.directory.appendingPathComponent("tokenizer_json/tokenizer.json")
        let tokenizer = try CLIPTokenizer(tokenizerJSON: file)
        let failures = corpusMismatches(tokenizer)
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.prefix(20).joined(separator: "\n"))")
        // The folder form picks the same file.
        let fromFolder = try CLIPTokenizer(directory: file.deletingLastPathComponent())
        #expect(fromFolder.tokenize("a <|STARTOFTEXT|> photo").ids == tokenizer.tokenize("a <|STARTOFTEXT|> photo").ids)
    }

    @Test func bundledStandardTokenizerMatchesTransformers() throws {
        let tokenizer = try CLIPTokenizer.standard()
        #expect(tokenizer.vocabularySize == 49408)
        #expect((tokenizer.bosTokenID, tokenizer.eosTokenID, tokenizer.padTokenID) == (49406, 49407, 49407))
        let failures = corpusMismatches(tokenizer)
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.prefix(20).joined(separator: "\n"))")
    }

    @Test func photoOfSksDog() throws {
        let prompt = try CLIPTokenizer.standard().tokenize("a photo of sks dog")
        #expect(prompt.ids == [49406, 320, 1125, 539, 48136, 1929, 49407] + Array(repeating: 49407, count: 70))
        #expect(prompt.endOfTextIndex == 6)
        #expect(!prompt.isTruncated && prompt.droppedTokenCount == 0 && prompt.droppedText.isEmpty)
    }

    @Test func longPromptIsTruncatedAndSaysHowMuch() throws {
        let tokenizer = try CLIPTokenizer.standard()
        // "a photo of a dog," is 6 tokens: 20 of them are 120, of which 75 fit.
        let prompt = tokenizer.tokenize(String(repeating: "a photo of a dog, ", count: 20))
        #expect(prompt.ids.count == 77)
        #expect(prompt.ids.first == 49406 && prompt.ids.last == 49407 && prompt.endOfTextIndex == 76)
        #expect(prompt.droppedTokenCount == 45)
        #expect(prompt.droppedText.hasPrefix("a dog , a photo of a dog ,"))  // 75 = 12 × 6 + "a photo of"
        // Exactly 75 prompt tokens fit with nothing dropped; one more drops one.
        #expect(tokenizer.tokenize(String(repeating: "word ", count: 75)).droppedTokenCount == 0)
        let over = tokenizer.tokenize(String(repeating: "word ", count: 75) + "last")
        #expect(over.droppedTokenCount == 1 && over.droppedText == "last")
        // A shorter context, as the tests' tiny models use.
        #expect(tokenizer.tokenize("a photo of sks dog", length: 4).ids == [49406, 320, 1125, 49407])
    }

    /// Other tokenizer configurations, each compared with transformers loading the same folder.
    @Test(arguments: ["bare", "sd2_pad", "added_tokens"])
    func configurationVariant(_ name: String) throws {
        let variant = try #require(TokenizerCorpus.shared.variants[name])
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for file in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(
                at: sourceVocabulary.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        for (file, text) in variant.files {
            try Data(text.utf8).write(to: folder.appendingPathComponent(file))
        }
        let tokenizer = try CLIPTokenizer(directory: folder)
        #expect(tokenizer.padTokenID == variant.pad_token_id)
        for prompt in variant.prompts {
            #expect(tokenizer.tokenize(prompt.text).ids == prompt.input_ids, "\(prompt.text)")
            #expect(tokenizer.encode(prompt.text) == Array(prompt.ids.dropFirst().dropLast()), "\(prompt.text)")
            #expect(tokenizer.decode(prompt.ids) == prompt.decoded, "\(prompt.text)")
            #expect(tokenizer.decode(prompt.ids, skippingSpecialTokens: true) == prompt.decoded_skipping_special,
                    "\(prompt.text)")
        }
    }

    /// The regex classes and the normalizer, for every Unicode scalar, against what transformers'
    /// backend does with that scalar alone.
    @Test func everyScalarIsClassifiedAndNormalizedAsTransformersDoes() {
        let corpus = TokenizerCorpus.shared
        var classMismatches: [String] = []
        for run in corpus.scalar_classes {
            for value in run.first...run.last {
                guard let scalar = Unicode.Scalar(value) else { continue }
                let mine: String = switch ScalarClass(scalar) {
                case .space: "s"
                case .letter: "L"
                case .number: "N"
                case .other: "o"
                }
                if mine != run.kind { classMismatches.append("U+\(String(value, radix: 16)) \(mine) ≠ \(run.kind)") }
            }
        }
        #expect(classMismatches.isEmpty, "\(classMismatches.count): \(classMismatches.prefix(40))")

        var normalizationMismatches: [String] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let expected = corpus.scalar_normalization[String(value)].map { Array($0.unicodeScalars) } ?? [scalar]
            let mine = TextCleanup.normalize(String(Character(scalar)))
            if mine != expected {
                normalizationMismatches.append(
                    "U+\(String(value, radix: 16)) → \(mine.map { String($0.value, radix: 16) }) ≠ \(expected.map { String($0.value, radix: 16) })")
            }
        }
        #expect(normalizationMismatches.isEmpty,
                "\(normalizationMismatches.count): \(normalizationMismatches.prefix(40))")
    }

    @Test func concurrentUseGivesTheSameIdsAndTheCacheStaysBounded() async throws {
        let tokenizer = try CLIPTokenizer.standard()
        let prompts = TokenizerCorpus.shared.prompts
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    prompts.indices.shuffled().allSatisfy { i in tokenizer.tokenize(prompts[i].text).ids == prompts[i].input_ids }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == [true, true, true, true])

        let cache = WordCache(capacity: 100)
        for i in 0..<1000 {
            _ = cache.ids(for: Array("word\(i)".utf8)) { _ in [Int32(i)] }
            #expect(cache.count <= 100)
        }
        #expect(cache.ids(for: Array("word999".utf8)) { _ in [-1] } == [999])
    }

    @Test func longWordWithoutSpacesIsFast() throws {
        // 8 KiB of letters (the daemon's prompt limit) in one word: n log n merging, well under a second.
        let tokenizer = try CLIPTokenizer.standard()
        let start = ContinuousClock.now
        let ids = tokenizer.encode(String(repeating: "abcdefghij", count: 820))
        #expect(!ids.isEmpty)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(tokenizer.decode(ids) == String(repeating: "abcdefghij", count: 820))
    }
}

// MARK: - Loading errors

@Suite("CLIPTokenizer files")
struct CLIPTokenizerFileTests {
    /// A folder with a copy of the real merges.txt and the given vocab.json text.
    func folder(vocabulary: String?, merges: String? = nil) throws -> URL {
        let folder = try temporaryFolder()
        if let vocabulary { try Data(vocabulary.utf8).write(to: folder.appendingPathComponent("vocab.json")) }
        if let merges {
            try Data(merges.utf8).write(to: folder.appendingPathComponent("merges.txt"))
        } else {
            try FileManager.default.copyItem(at: sourceVocabulary.appendingPathComponent("merges.txt"),
                                             to: folder.appendingPathComponent("merges.txt"))
        }
        return folder
    }

    @Test func missingVocabularyFileIsNamed() throws {
        let folder = try folder(vocabulary: nil)
        defer { try? FileManager.default.removeItem(at: folder) }
        let vocabulary = folder.appendingPathComponent("vocab.json")
        #expect(throws: CLIPTokenizerError.missingFile(vocabulary)) {
            try CLIPTokenizer(vocabularyURL: vocabulary, mergesURL: folder.appendingPathComponent("merges.txt"))
        }
        #expect(throws: CLIPTokenizerError.noTokenizerFiles(directory: folder)) {
            try CLIPTokenizer(directory: folder)
        }
    }

    @Test func corruptVocabularyIsReportedWithItsFile() throws {
        for text in ["{\"a\": 0, \"b\": ", "[\"a\", \"b\"]", "{\"a\": \"zero\"}", ""] {
            let folder = try folder(vocabulary: text)
            defer { try? FileManager.default.removeItem(at: folder) }
            let vocabulary = folder.appendingPathComponent("vocab.json")
            do {
                _ = try CLIPTokenizer(directory: folder)
                Issue.record("no error for vocab.json \(text.debugDescription)")
            } catch {
                guard case .malformedJSON(let url, let reason) = error else {
                    Issue.record("unexpected \(error)")
                    continue
                }
                #expect(url == vocabulary && !reason.isEmpty)
                #expect(error.description.contains("vocab.json"))
            }
        }
    }

    @Test func vocabularyWithoutTheMergedTokensIsRejected() throws {
        // Valid JSON, but the merges name tokens this vocabulary lacks.
        let folder = try folder(vocabulary: "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1}")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: CLIPTokenizerError.malformedMerges(
            folder.appendingPathComponent("merges.txt"), line: 2, reason: "'i' or 'n' is not in the vocabulary")) {
            try CLIPTokenizer(directory: folder)
        }
    }

    @Test func malformedMergeLineIsReportedWithItsLine() throws {
        let vocabulary = try String(contentsOf: sourceVocabulary.appendingPathComponent("vocab.json"), encoding: .utf8)
        let folder = try folder(vocabulary: vocabulary, merges: "#version: 0.2\ni n\nt h e\n")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: CLIPTokenizerError.malformedMerges(
            folder.appendingPathComponent("merges.txt"), line: 3, reason: "expected two tokens separated by one space")) {
            try CLIPTokenizer(directory: folder)
        }
    }

    @Test func corruptConfigAndForeignTokenizerJSONAreRejected() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("tokenizer.json")
        try Data(#"{"model": {"type": "WordPiece", "vocab": {"a": 0}, "merges": []}}"#.utf8).write(to: file)
        #expect(throws: CLIPTokenizerError.unsupportedTokenizer(file, reason: "model type is WordPiece, not BPE")) {
            try CLIPTokenizer(directory: folder)
        }
        try Data(#"{"model": {"type": "BPE"}}"#.utf8).write(to: file)
        #expect(throws: CLIPTokenizerError.malformedJSON(file, reason: "missing key 'vocab' in model")) {
            try CLIPTokenizer(tokenizerJSON: file)
        }
        let tokenizerJSON = Fixtures.directory.appendingPathComponent("tokenizer_json/tokenizer.json")
        try FileManager.default.removeItem(at: file)
        try FileManager.default.copyItem(at: tokenizerJSON, to: file)
        let config = folder.appendingPathComponent("tokenizer_config.json")
        try Data(#"{"pad_token": 7}"#.utf8).write(to: config)
        #expect(performing: { try CLIPTokenizer(directory: folder) }, throws: { error in
            guard case CLIPTokenizerError.malformedJSON(let url, _) = error else { return false }
            return url == config
        })
    }

    @Test func modelFolderWithTokenizerSubfolderIsAccepted() throws {
        let model = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model) }
        try FileManager.default.copyItem(at: sourceVocabulary, to: model.appendingPathComponent("tokenizer"))
        let tokenizer = try CLIPTokenizer(directory: model)
        #expect(tokenizer.encode("a photo of sks dog") == [320, 1125, 539, 48136, 1929])
    }
}

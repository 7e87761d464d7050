// Long prompts in A1111's 75-token chunks against A1111's own tokenize_line (fixture:
// make_prompt_chunks_fixtures.py): every chunk's 77 token ids and multipliers, bit for bit, and the
// token count — for short prompts, prompts of 75, 76 and 200 tokens, comma backtrack near a chunk's
// end (and not beyond 20 tokens), BREAK (also twice, alone, and inside brackets where it is text).
import Foundation
import Models
import Testing
import TestSupport
@testable import Sampling

private struct ChunksCase: Sendable, CustomTestStringConvertible {
    let prompt: String
    let tokenCount: Int
    let chunks: [PromptChunks.Chunk]
    var testDescription: String { prompt.count > 60 ? "\"\(prompt.prefix(60))…\" (\(prompt.count) characters)" : "\"\(prompt)\"" }
}

private let cases: [ChunksCase] = {
    let url = Fixtures.packageRoot.appendingPathComponent("Tests/Fixtures/prompt_chunks.json")
    let root = (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: Any]
    return (root?["cases"] as? [[String: Any]] ?? []).map { entry in
        let chunks = (entry["chunks"] as? [[String: Any]] ?? []).map { chunk in
            PromptChunks.Chunk(tokens: (chunk["tokens"] as? [NSNumber] ?? []).map(\.intValue),
                               multipliers: (chunk["multipliers"] as? [String] ?? []).map { Double($0) ?? .nan })
        }
        return ChunksCase(prompt: entry["prompt"] as? String ?? "", tokenCount: (entry["token_count"] as? NSNumber)?.intValue ?? -1,
                          chunks: chunks)
    }
}()

@Suite("Prompt syntax: A1111 long-prompt chunks")
struct PromptChunksTests {
    static let tokenizer = try! CLIPTokenizer.standard()

    @Test("the fixture holds short, long, comma-backtracked and BREAK prompts")
    func fixtureLoads() {
        #expect(cases.count >= 15)
        #expect(cases.contains { $0.chunks.count >= 3 } && cases.allSatisfy { $0.chunks.allSatisfy { $0.tokens.count == 77 && $0.multipliers.count == 77 } })
    }

    @Test("chunks, multipliers and token count equal A1111's tokenize_line", arguments: cases)
    fileprivate func matchesA1111(_ c: ChunksCase) throws {
        let chunks = PromptChunks(try PromptEmphasis(parsing: c.prompt), tokenizer: Self.tokenizer)
        #expect(chunks.chunks.count == c.chunks.count)
        for (index, (ours, theirs)) in zip(chunks.chunks, c.chunks).enumerated() {
            #expect(ours.tokens == theirs.tokens, "chunk \(index)")
            #expect(ours.multipliers == theirs.multipliers, "chunk \(index)")
        }
        #expect(chunks.tokenCount == c.tokenCount)
    }

    @Test("a 200-token prompt keeps every token: three chunks, nothing dropped")
    func longPromptKeepsEverything() throws {
        let prompt = Array(repeating: "red circle", count: 100).joined(separator: " ")
        let content = Self.tokenizer.encode(prompt)
        #expect(content.count == 200)
        let chunks = PromptChunks(try PromptEmphasis(parsing: prompt), tokenizer: Self.tokenizer)
        #expect(chunks.chunks.count == 3 && chunks.tokenCount == 200)
        let end = Self.tokenizer.eosTokenID
        let kept = chunks.chunks.flatMap { $0.tokens.dropFirst().dropLast() }.filter { $0 != end }
        #expect(kept == content)
    }
}

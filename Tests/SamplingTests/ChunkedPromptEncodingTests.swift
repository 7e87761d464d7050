// Long and weighted prompts encoded as A1111 encodes them — chunks through CLIP, the Original emphasis,
// the chunks stacked along the sequence — against A1111's own FrozenCLIPEmbedderWithCustomWords.forward
// on the text encoder of models/shapes (fixture: make_chunked_prompt_encoding_fixtures.py): short, weighted,
// BREAK, 145-token, weighted long with clip skip 2, and empty prompts. Bound: the CLIP parity bound
// (2e-5 relative to the reference's scale, as ModelParityTests).
import Foundation
import Testing
import TestSupport
@testable import Sampling

private struct EncodingCase: Decodable, Sendable, CustomTestStringConvertible {
    let prompt: String
    let clipSkip: Int
    var index = 0
    enum CodingKeys: String, CodingKey { case prompt, clipSkip = "clip_skip" }
    var testDescription: String { "case \(index): \"\(prompt.prefix(50))\"\(prompt.count > 50 ? "…" : ""), clip skip \(clipSkip)" }
}

/// The CLIP parity bound of ModelParityTests.
private let parityTolerance: Float = 2e-5
private let fixture = try! Fixtures.open("chunked_prompt_encoding")
private let cases: [EncodingCase] = {
    let decoded = (try? JSONDecoder().decode([EncodingCase].self, from: Data((fixture.file.metadata["cases"] ?? "[]").utf8))) ?? []
    return decoded.enumerated().map { var c = $1; c.index = $0; return c }
}()

@Suite("Prompt syntax: A1111 conditioning of long and weighted prompts")
struct ChunkedPromptEncodingTests {
    static let pipeline = try! StableDiffusionPipeline.load(Fixtures.packageRoot.appendingPathComponent("models/shapes"))

    @Test("the fixture covers one- and two-chunk prompts")
    func coverage() {
        #expect(cases.count == 6)
        #expect(Set((0..<cases.count).map { fixture["case\($0).z"].shape[1] }) == [77, 154])
    }

    @Test("the conditioning equals A1111's", arguments: cases)
    fileprivate func matchesA1111(_ c: EncodingCase) throws {
        let text = Self.pipeline.text
        let chunks = PromptChunks(try PromptEmphasis(parsing: c.prompt), tokenizer: text.tokenizer)
        let ours = text.encode(chunks, clipSkip: c.clipSkip)
        let theirs = fixture["case\(c.index).z"]
        #expect(ours.shape == theirs.shape)
        let d = difference(ours, theirs)
        #expect(d.relativeToScale < parityTolerance, "\(d)")
    }
}

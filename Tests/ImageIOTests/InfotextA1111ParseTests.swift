// Our infotexts as AUTOMATIC1111 reads them: each case's text is what GenerationParameters writes for its
// parameters, and A1111's own parse_generation_parameters (fixture: Tests/Fixtures/make_infotext_parse_fixtures.py,
// run on an A1111 checkout) gives those parameters back — prompt and negative prompt across lines and
// quotes, steps, sampler (with A1111's schedule type), CFG scale, seed up to 2⁶⁴ − 1, size, model, clip
// skip (A1111 fills in 1 when absent), denoising strength, and the quoted Lora hashes.
import Foundation
import ImageIO
import Testing
import TestSupport

private struct ParseCase: Decodable, Sendable, CustomTestStringConvertible {
    struct Parameters: Decodable, Sendable {
        let prompt: String, negative_prompt: String, steps: Int, sampler: String, cfg_scale: Double
        let seed: UInt64, width: Int, height: Int, model_hash: String?, model: String?, extra: [[String]]
    }
    let parameters: Parameters
    let infotext: String
    /// A1111's reading: string values, except the numeric defaults it fills in.
    let a1111: [String: JSONValue]
    var testDescription: String { String(infotext.prefix(40)) }
}

/// A JSON scalar of A1111's result dictionary.
private enum JSONValue: Decodable, Sendable, Equatable {
    case string(String), number(Double), bool(Bool)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .string(s) } else if let b = try? c.decode(Bool.self) { self = .bool(b) } else { self = .number(try c.decode(Double.self)) }
    }
    var string: String? { if case .string(let s) = self { s } else { nil } }
}

private let cases: [ParseCase] = {
    let url = Fixtures.directory.appendingPathComponent("infotext_a1111_parse.json")
    return try! JSONDecoder().decode([ParseCase].self, from: Data(contentsOf: url))
}()

@Suite("Infotexts read back by A1111's parser")
struct InfotextA1111ParseTests {
    @Test("our writer gives the fixture's text, and A1111's reading of it gives the parameters back", arguments: cases)
    fileprivate func readBack(_ c: ParseCase) {
        let p = c.parameters
        let ours = GenerationParameters(prompt: p.prompt, negativePrompt: p.negative_prompt, steps: p.steps, sampler: p.sampler,
                                        cfgScale: p.cfg_scale, seed: p.seed, width: p.width, height: p.height, modelHash: p.model_hash,
                                        modelName: p.model, extra: p.extra.map { Infotext.Field($0[0], $0[1]) })
        #expect(ours.infotext == c.infotext, "the writer changed: regenerate the fixture")
        let a = c.a1111
        #expect(a["Prompt"]?.string == p.prompt && a["Negative prompt"]?.string == p.negative_prompt)
        #expect(a["Steps"]?.string == String(p.steps) && a["Seed"]?.string == String(p.seed))
        #expect(a["Size-1"]?.string == String(p.width) && a["Size-2"]?.string == String(p.height))
        #expect(a["CFG scale"]?.string.flatMap(Double.init) == p.cfg_scale)
        let sampler = a["Sampler"]?.string.flatMap { SamplerDisplayNames.name(ofDisplayName: $0, scheduleType: a["Schedule type"]?.string) }
        #expect(sampler == p.sampler)
        #expect(a["Model hash"]?.string == p.model_hash && a["Model"]?.string == p.model)
        let extra = Dictionary(uniqueKeysWithValues: p.extra.map { ($0[0], $0[1]) })
        #expect(a["Clip skip"]?.string == (extra["Clip skip"] ?? "1"))
        #expect(a["Denoising strength"]?.string == extra["Denoising strength"])
        #expect(a["Lora hashes"]?.string == extra["Lora hashes"])
        // And our own reader agrees with A1111's.
        let parsed = try? GenerationParameters(infotext: c.infotext)
        #expect(parsed == ours)
    }
}
